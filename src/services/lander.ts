// The lander: a service-owned sandbox per (repo, base branch) in which batched landings run, so no
// agent's hooks, config or processes ever touch another agent's commits. It is a pool lease held
// by the reserved agent `@lander` (no API key can name it), renewed on each use and returned to the
// pool when it has been idle for LANDER_IDLE_S.
import { AppError } from '../errors.ts';
import { LANDER_AGENT } from '../gateway/ref-rules.ts';
import type { LanderRef, LockClient } from '../lock/client.ts';
import type { LeaseRecord } from '../pool/types.ts';
import { connectSandbox, providerOptions, type Sandbox } from '../sandbox/provider.ts';
import { leasePool, repoPool, type ServiceContext } from './context.ts';
import { connectTimeoutMs, prepare } from './leases.ts';

/** The branch a lander's clone keeps checked out (never pushed). */
const LANDER_BRANCH = 'git-sandbox/lander';

/** A lander ready to run a landing. */
export interface Lander {
  lease: LeaseRecord;
  sbx: Sandbox;
}

/**
 * Returns the lander of the repo + base (creating it on first use); the caller holds the RepoLock
 * `token`. `known` is the lander the lock recorded: its sandbox is connected while its lease is
 * renewed, and used only once the renewal confirms the lease is still the lander's.
 */
export async function ensureLander(ctx: ServiceContext, lock: LockClient, token: number, repo: { url: string; key: string }, base: string, known: LanderRef | null): Promise<Lander> {
  if (known) {
    // The lander's lease is found by its id (the shard that granted it, even if POOL_SHARDS changed since).
    const held = leasePool(ctx.env, known.leaseId);
    // The timeout the renewed lease will ask for (connectTimeoutMs of a lease expiring in LANDER_IDLE_S).
    const timeoutMs = Math.max(60_000, ctx.cfg.LANDER_IDLE_S * 1000 + 300_000);
    const early = known.sandboxId ? connectSandbox(providerOptions(ctx.cfg), known.sandboxId, timeoutMs).catch(() => null) : null;
    const r = await held.renew(known.leaseId, LANDER_AGENT, ctx.cfg.LANDER_IDLE_S);
    if (r.ok && r.lease.workdir) {
      try {
        // The early connection counts only if it reached the sandbox the renewed lease names.
        const sbx = early && known.sandboxId === r.lease.sandbox_id ? await early : null;
        return { lease: r.lease, sbx: sbx ?? (await connectSandbox(providerOptions(ctx.cfg), r.lease.sandbox_id, connectTimeoutMs(r.lease))) };
      } catch (e) {
        if (!(e instanceof AppError && e.code === 'SANDBOX_UNAVAILABLE')) throw e;
        await held.reportBroken(known.leaseId, 'lander_gone');
      }
    }
  }
  // A new lander is a lease in its repo's shard, with the repo's warm clones.
  const pool = repoPool(ctx.env, repo.key);
  const got = await pool.acquire({ agentId: LANDER_AGENT, taskId: 'lander', repoUrl: repo.url, repoKey: repo.key, branch: base, agentBranch: LANDER_BRANCH, mode: 'pooled', ttlS: ctx.cfg.LANDER_IDLE_S });
  if (!got.ok) throw new AppError('POOL_EXHAUSTED', `no sandbox for the lander of ${repo.key}: ${got.message}`, { retryAfterS: got.retryAfterS });
  try {
    const prepared = await prepare(ctx, got.lease);
    const lease = (await pool.markReady(got.lease.id, prepared.workdir, prepared.home, prepared.base)) ?? got.lease;
    await lock.setLander(token, lease.id, lease.sandbox_id);
    ctx.log.info('lander_created', { lease: lease.id, repo: repo.key, base });
    return { lease, sbx: await connectSandbox(providerOptions(ctx.cfg), lease.sandbox_id, connectTimeoutMs(lease)) };
  } catch (e) {
    await pool.markFailed(got.lease.id, 'lander_prepare_failed');
    throw e;
  }
}

/** Drops a lander whose sandbox failed mid-landing, so the next holder makes a new one. */
export async function discardLander(ctx: ServiceContext, lock: LockClient, token: number, lander: Lander): Promise<void> {
  await leasePool(ctx.env, lander.lease.id).reportBroken(lander.lease.id, 'lander_failed');
  await lock.setLander(token, null);
}
