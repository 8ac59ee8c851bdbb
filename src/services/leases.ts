// Lease service: create (acquire + clone/branch), read, list, renew, release. Used by REST and MCP.
import { AppError } from '../errors.ts';
import { markers } from '../git/status.ts';
import { EXIT, prepareScript } from '../git/scripts.ts';
import { serviceGitEnv } from '../git/env.ts';
import { gatewayAuthorization, gatewayRepoUrl } from '../gateway/credentials.ts';
import { agentNamespace } from '../gateway/ref-rules.ts';
import { assertBranchName, parseRepoUrl, repoAllowed } from '../git/validate.ts';
import { modeFor } from '../pool/rollout.ts';
import type { AcquireResult, LeaseLookup, LeaseRecord } from '../pool/types.ts';
import { connectSandbox, providerOptions, run, type Sandbox } from '../sandbox/provider.ts';
import { poolStub, type ServiceContext } from './context.ts';

/** The public view of a lease (no provider ids, no tokens). */
export interface LeaseView {
  id: string;
  agent_id: string;
  task_id: string;
  repo_url: string;
  branch: string;
  agent_branch: string;
  status: string;
  workdir: string | null;
  created_at: string;
  expires_at: string;
  lease_source: 'warm' | 'affinity' | 'cold';
  mode: 'pooled' | 'direct';
  /** The commit of origin/<branch> the lease started from, and when the service last saw it as the tip. */
  base_commit: string | null;
  fetched_at: string | null;
}

/** Input of createLease (already shape-validated by zod). */
export interface CreateLeaseInput {
  repo_url: string;
  branch?: string;
  task_id: string;
  agent_branch?: string;
  ttl_s?: number;
}

/** Converts a stored lease to its public view. */
export function leaseView(l: LeaseRecord): LeaseView {
  return {
    id: l.id,
    agent_id: l.agent_id,
    task_id: l.task_id,
    repo_url: l.repo_url,
    branch: l.branch,
    agent_branch: l.agent_branch,
    status: l.status,
    workdir: l.workdir,
    created_at: new Date(l.created_at).toISOString(),
    expires_at: new Date(l.expires_at).toISOString(),
    lease_source: l.source,
    mode: l.mode,
    base_commit: l.base_commit ?? null,
    fetched_at: l.fetched_at ? new Date(l.fetched_at).toISOString() : null,
  };
}

function acquireError(r: Extract<AcquireResult, { ok: false }>): AppError {
  if (r.reason === 'agent_limit') return new AppError('TOO_MANY_LEASES', r.message, { retryAfterS: r.retryAfterS });
  if (r.reason === 'idempotency_mismatch') return new AppError('IDEMPOTENCY_MISMATCH', r.message);
  if (r.reason === 'provider') return new AppError('PROVIDER_ERROR', r.message, { retryAfterS: r.retryAfterS });
  return new AppError('POOL_EXHAUSTED', r.message, { retryAfterS: r.retryAfterS, details: { retry_after_s: r.retryAfterS } });
}

/** Sandbox life to request on connect: the lease's remaining time plus a margin. */
export function connectTimeoutMs(l: LeaseRecord): number {
  return Math.max(60_000, l.expires_at - Date.now() + 300_000);
}

/** Leases a sandbox with `repo_url` cloned and the agent branch checked out. */
export async function createLease(ctx: ServiceContext, agentId: string, input: CreateLeaseInput, idemKey?: string): Promise<LeaseView> {
  const repo = parseRepoUrl(input.repo_url);
  if (!repoAllowed(repo, ctx.cfg.ALLOWED_REPOS)) {
    throw new AppError('REPO_NOT_ALLOWED', `repository ${repo.key} is not in ALLOWED_REPOS`, { details: { repo: repo.key } });
  }
  const branch = assertBranchName(input.branch ?? 'main', 'branch');
  const agentBranch = assertBranchName(input.agent_branch ?? `agent/${agentId}/${input.task_id}`, 'agent_branch');
  if (!agentBranch.startsWith(agentNamespace(agentId)) || agentBranch.length === agentNamespace(agentId).length) {
    throw new AppError('INVALID_REF', `agent_branch must be inside your namespace ${agentNamespace(agentId)}…`, { details: { field: 'agent_branch' } });
  }
  if (!ctx.cfg.PUBLIC_URL) throw new AppError('PROVIDER_ERROR', 'the git gateway is not configured (PUBLIC_URL)');
  const mode = modeFor(agentId, ctx.cfg.POOLED_PERCENT);
  const pool = poolStub(ctx.env);
  const req = { agentId, taskId: input.task_id, repoUrl: repo.url, repoKey: repo.key, branch, agentBranch, mode, ttlS: input.ttl_s, idemKey };
  // A pool member that died unnoticed fails preparation; it is terminated and another one is taken.
  for (let attempt = 0; ; attempt++) {
    const got = await pool.acquire(req);
    if (!got.ok) throw acquireError(got);
    if (got.existing) return leaseView(got.lease);
    const lease = got.lease;
    try {
      const prepared = await prepare(ctx, lease);
      const ready = await pool.markReady(lease.id, prepared.workdir, prepared.home, prepared.base);
      ctx.log.info('lease_created', { lease: lease.id, agent: agentId, repo: repo.key, source: lease.source, mode });
      return leaseView(ready ?? lease);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (e instanceof AppError && e.code === 'BRANCH_NOT_FOUND') {
        // Bad input, not a bad sandbox: the member goes back to the pool (scrubbed) instead of being destroyed.
        await pool.release(lease.id, agentId, 'clone_failed', msg);
        throw e;
      }
      // The lease must not stay half-made in the pool, whatever failed (database or sandbox).
      await pool.markFailed(lease.id, 'clone_failed', (e as AppError).internal ?? msg);
      if (e instanceof AppError && e.code === 'SANDBOX_UNAVAILABLE' && attempt < 3) continue;
      throw e;
    }
  }
}

/** Clones (or fetches) the repo through the gateway and checks out the lease's branch. */
export async function prepare(ctx: ServiceContext, lease: LeaseRecord): Promise<{ workdir: string; home: string; base?: { commit: string; fetched: boolean } }> {
  const p = providerOptions(ctx.cfg);
  const sbx = await connectSandbox(p, lease.sandbox_id, connectTimeoutMs(lease));
  const authorization = await gatewayAuthorization(ctx.cfg.ERROR_ENCRYPTION_KEY, lease.id);
  const r = await run(sbx, prepareScript(), {
    timeoutMs: 120_000,
    envs: {
      GS_URL: gatewayRepoUrl(ctx.cfg.PUBLIC_URL, lease.repo_key),
      GS_BRANCH: lease.branch,
      GS_AGENT_BRANCH: lease.agent_branch,
      GS_AGENT: lease.agent_id,
      GS_AUTH: authorization,
      // Set only when the pool verified this clone fresh: the prepare then runs no network command.
      GS_EXPECT: lease.base_commit ?? '',
      ...serviceGitEnv({ authorization }),
    },
  });
  const m = markers(r.stdout);
  if (r.exitCode === EXIT.NO_BRANCH) throw new AppError('BRANCH_NOT_FOUND', `branch ${lease.branch} does not exist in ${lease.repo_url}`, { details: { field: 'branch' } });
  if (r.exitCode !== 0 || !m.WORKDIR || !m.HOME) {
    const code = r.exitCode === EXIT.CLONE ? 'CLONE_FAILED' : 'GIT_FAILED';
    throw new AppError(code, `could not clone ${lease.repo_url} at branch ${lease.branch}`, { internal: r.stderr.slice(-2000) });
  }
  return { workdir: m.WORKDIR, home: m.HOME, base: m.BASE ? { commit: m.BASE, fetched: m.FETCHED !== '0' } : undefined };
}

/** Maps a failed lookup to its error. */
export function lookupError(r: Extract<LeaseLookup, { ok: false }>, id: string): AppError {
  if (r.reason === 'not_found') return new AppError('NOT_FOUND', `no sandbox lease ${id}`);
  if (r.reason === 'expired') return new AppError('LEASE_EXPIRED', `lease ${id} expired at ${r.lease ? new Date(r.lease.expires_at).toISOString() : 'its deadline'}`);
  return new AppError('LEASE_ENDED', `lease ${id} has ended (${r.reason})`);
}

/** Returns the caller's lease or throws 404/410. */
export async function getLease(ctx: ServiceContext, agentId: string, id: string, touch: string | false = false): Promise<LeaseRecord> {
  const r = await poolStub(ctx.env).lookup(id, agentId, touch);
  if (!r.ok) throw lookupError(r, id);
  return r.lease;
}

/** An open lease: its record and a connected sandbox. */
export interface OpenLease {
  lease: LeaseRecord;
  sbx: Sandbox;
}

/** Opens the caller's lease for an operation (marks it in use); a dead sandbox breaks the lease. */
export async function openLease(ctx: ServiceContext, agentId: string, id: string, op = 'operation'): Promise<OpenLease> {
  const lease = await getLease(ctx, agentId, id, op);
  if (lease.status === 'initializing' || !lease.workdir) throw new AppError('LEASE_NOT_READY', `lease ${id} is still being prepared`);
  try {
    const sbx = await connectSandbox(providerOptions(ctx.cfg), lease.sandbox_id, connectTimeoutMs(lease));
    return { lease, sbx };
  } catch (e) {
    if (e instanceof AppError && e.code === 'SANDBOX_UNAVAILABLE') {
      await poolStub(ctx.env).reportBroken(lease.id, 'connect_failed');
    }
    throw e;
  }
}

/** The caller's active leases. */
export async function listLeases(ctx: ServiceContext, agentId: string): Promise<LeaseView[]> {
  return (await poolStub(ctx.env).list(agentId)).map(leaseView);
}

/** Extends a lease. */
export async function renewLease(ctx: ServiceContext, agentId: string, id: string, ttlS?: number): Promise<LeaseView> {
  const r = await poolStub(ctx.env).renew(id, agentId, ttlS);
  if (!r.ok) throw lookupError(r, id);
  return leaseView(r.lease);
}

/** Ends a lease; the sandbox goes back to the pool (scrubbed) or is terminated. */
export async function releaseLease(ctx: ServiceContext, agentId: string, id: string): Promise<void> {
  const r = await poolStub(ctx.env).release(id, agentId);
  if (!r.ok) throw lookupError(r, id);
}
