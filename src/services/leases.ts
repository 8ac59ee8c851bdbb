// Lease service: create (acquire + clone/branch), read, list, renew, release. Used by REST and MCP.
import type { CloneOptions } from '../contract.ts';
import { AppError } from '../errors.ts';
import { markers } from '../git/status.ts';
import { EXIT, prepareScript } from '../git/scripts.ts';
import { serviceGitEnv } from '../git/env.ts';
import { gatewayAuthorization, gatewayRepoUrl, leasePrincipal } from '../gateway/credentials.ts';
import { agentNamespace } from '../gateway/ref-rules.ts';
import { assertBranchName, parseRepoUrl, repoAllowed } from '../git/validate.ts';
import { modeFor } from '../pool/rollout.ts';
import type { AcquireResult, LeaseLookup, LeaseRecord } from '../pool/types.ts';
import { attachSandbox, confirmAlive, connectSandbox, providerOptions, run, type Sandbox } from '../sandbox/provider.ts';
import { leasePool, repoPool, type ServiceContext } from './context.ts';
import { listAgentLeases } from './pools.ts';

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
  /** Why the lease failed, when it did (a clone that failed in the background). */
  error?: { code: string; message: string } | null;
}

/** Input of createLease (already shape-validated by zod). */
export interface CreateLeaseInput {
  repo_url: string;
  branch?: string;
  task_id: string;
  agent_branch?: string;
  ttl_s?: number;
  /** How a new clone is made (shallow, partial); a pooled clone that holds more is used as it is. */
  clone?: CloneOptions;
  /** false: answer at once with the lease initializing; true (default): wait up to SYNC_CLONE_MS. */
  wait?: boolean;
}

/** How long a lease request waits for its clone before it answers with the lease still initializing. */
export const SYNC_CLONE_MS = 20_000;

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
    ...failureOf(l),
  };
}

/** A lease's stored failure (JSON written by the coordinator) as the view's `error`, when it has one. */
export function failureOf(l: Pick<LeaseRecord, 'failure'> | undefined): { error?: { code: string; message: string } } {
  return l?.failure ? { error: parseFailure(l.failure) } : {};
}

function parseFailure(text: string): { code: string; message: string } {
  try {
    const v = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof v.code === 'string' && typeof v.message === 'string') return { code: v.code, message: v.message };
  } catch {
    // Not JSON: shown as an internal failure below.
  }
  return { code: 'INTERNAL', message: 'the lease failed' };
}

/** What a lease's owner is told about a failure: its code and public message, never internal detail. */
function publicFailure(e: unknown): { code: string; message: string } {
  return e instanceof AppError ? { code: e.code, message: e.message } : { code: 'INTERNAL', message: 'internal error' };
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
  const pool = repoPool(ctx.env, repo.key);
  const req = { agentId, taskId: input.task_id, repoUrl: repo.url, repoKey: repo.key, branch, agentBranch, mode, ttlS: input.ttl_s, idemKey };
  // A pool member that died unnoticed fails preparation; it is terminated and another one is taken.
  for (let attempt = 0; ; attempt++) {
    const got = await pool.acquire(req);
    if (!got.ok) throw acquireError(got);
    if (got.existing) return leaseView(input.wait === false ? got.lease : await settled(ctx, got.lease));
    const lease = got.lease;
    const work = prepareLease(ctx, lease, input.clone);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const slow = input.wait === false ? Promise.resolve(null) : new Promise<null>((r) => (timer = setTimeout(() => r(null), SYNC_CLONE_MS)));
    const first = await Promise.race([work.then((view) => ({ view }), (error: unknown) => ({ error })), slow]);
    clearTimeout(timer);
    if (!first) {
      // The clone goes on after the answer, bounded by the platform's time after a response
      // (waitUntil); the lease stays initializing until it is ready or failed with the reason.
      ctx.waitUntil(work.catch((e: unknown) => ctx.log.warn('lease_prepare_failed', { lease: lease.id, error: e instanceof Error ? e.message : String(e) })));
      ctx.log.info('lease_initializing', { lease: lease.id, agent: agentId, repo: repo.key, waited: input.wait !== false });
      return leaseView(lease);
    }
    if ('view' in first) return first.view;
    const e = first.error;
    if (e instanceof AppError && e.code === 'SANDBOX_UNAVAILABLE' && attempt < 3) continue;
    throw e;
  }
}

/**
 * A replayed lease (same Idempotency-Key) as its first request will answer: while another request
 * still prepares it, its state is polled up to SYNC_CLONE_MS.
 */
async function settled(ctx: ServiceContext, lease: LeaseRecord): Promise<LeaseRecord> {
  const pool = leasePool(ctx.env, lease.id);
  const until = Date.now() + SYNC_CLONE_MS;
  let l = lease;
  while (l.status === 'initializing' && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    const r = await pool.lookup(l.id, l.agent_id);
    if (!r.ok) return r.lease ?? l;
    l = r.lease;
  }
  return l;
}

/** Clones into a granted lease and marks it ready; on failure the lease ends with the reason, and the error is rethrown. */
async function prepareLease(ctx: ServiceContext, lease: LeaseRecord, clone?: CloneOptions): Promise<LeaseView> {
  const pool = leasePool(ctx.env, lease.id);
  try {
    const prepared = await prepare(ctx, lease, clone);
    const ready = await pool.markReady(lease.id, prepared.workdir, prepared.home, prepared.base);
    ctx.log.info('lease_created', { lease: lease.id, agent: lease.agent_id, repo: lease.repo_key, source: lease.source, mode: lease.mode });
    return leaseView(ready ?? lease);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof AppError && e.code === 'BRANCH_NOT_FOUND') {
      // Bad input, not a bad sandbox: the member goes back to the pool (scrubbed) instead of being destroyed.
      await pool.release(lease.id, lease.agent_id, 'clone_failed', msg, publicFailure(e));
      throw e;
    }
    // The lease must not stay half-made in the pool, whatever failed (database or sandbox).
    await pool.markFailed(lease.id, 'clone_failed', (e as AppError).internal ?? msg, publicFailure(e));
    throw e;
  }
}

/**
 * Clones (or fetches) the repo through the gateway and checks out the lease's branch; `clone` makes
 * a new clone shallow or partial (without it, a shallow clone left in the sandbox is deepened).
 */
export async function prepare(ctx: ServiceContext, lease: LeaseRecord, clone: CloneOptions = {}): Promise<{ workdir: string; home: string; base?: { commit: string; fetched: boolean } }> {
  const p = providerOptions(ctx.cfg);
  // A member this isolate connected to lately, and known to live past the lease, is reached without
  // a control-plane call; if the sandbox died since, the failure is checked against the control plane.
  const { sbx, cached } = await attachSandbox(p, lease.sandbox_id, connectTimeoutMs(lease));
  const authorization = await gatewayAuthorization(ctx.cfg.ERROR_ENCRYPTION_KEY, leasePrincipal(lease.id));
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
      GS_DEPTH: clone.depth ? String(clone.depth) : '',
      GS_FILTER: clone.filter ?? '',
      ...serviceGitEnv({ authorization }),
    },
  }).catch(async (e: unknown) => {
    if (cached) await confirmAlive(p, lease.sandbox_id);
    throw e;
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
  const r = await leasePool(ctx.env, id).lookup(id, agentId, touch);
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
      await leasePool(ctx.env, lease.id).reportBroken(lease.id, 'connect_failed');
    }
    throw e;
  }
}

/** The caller's active leases. */
export async function listLeases(ctx: ServiceContext, agentId: string): Promise<LeaseView[]> {
  return (await listAgentLeases(ctx.env, agentId)).map(leaseView);
}

/** Extends a lease. */
export async function renewLease(ctx: ServiceContext, agentId: string, id: string, ttlS?: number): Promise<LeaseView> {
  const r = await leasePool(ctx.env, id).renew(id, agentId, ttlS);
  if (!r.ok) throw lookupError(r, id);
  return leaseView(r.lease);
}

/** Ends a lease; the sandbox goes back to the pool (scrubbed) or is terminated. */
export async function releaseLease(ctx: ServiceContext, agentId: string, id: string): Promise<void> {
  const r = await leasePool(ctx.env, id).release(id, agentId);
  if (!r.ok) throw lookupError(r, id);
}
