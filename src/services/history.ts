// History an agent may read: a lease's state after it ended (from git_sandboxes, which the
// PoolCoordinator projects), the git_operations rows of one lease, and the agent's own operations
// across leases. Another agent's lease is a 404, ended or not.
import { and, asc, eq, gt, gte, type SQL } from 'drizzle-orm';
import type { AgentOperationsQuery, LeaseState, Operation, OperationPage, OperationsQuery } from '../contract-read.ts';
import { gitOperations, gitSandboxes } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { parseRepoUrl } from '../git/validate.ts';
import type { LeaseRecord } from '../pool/types.ts';
import { leasePool, type ServiceContext } from './context.ts';
import { failureOf, leaseView, lookupError } from './leases.ts';

/** Statuses a git_sandboxes row shows once its lease has ended. */
export const ENDED_STATUSES = ['released', 'expired', 'terminated', 'error'] as const;

type SandboxRow = typeof gitSandboxes.$inferSelect;
type OperationRow = typeof gitOperations.$inferSelect;

/** Runs a query; a database failure is a 503 the caller may retry. */
async function query<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isAppError(e)) throw e;
    throw new AppError('DATABASE_UNAVAILABLE', 'the database is unavailable; try again', { internal: String(e instanceof Error && e.cause ? e.cause : e), retryAfterS: 5 });
  }
}

/** The agent's git_sandboxes row of a lease, if any. */
async function leaseRow(ctx: ServiceContext, agentId: string, id: string): Promise<SandboxRow | undefined> {
  const rows = await query(() => ctx.db().select().from(gitSandboxes).where(and(eq(gitSandboxes.leaseId, id), eq(gitSandboxes.agentId, agentId))).limit(1));
  return rows[0];
}

const ended = (row: SandboxRow | undefined): row is SandboxRow => !!row && (ENDED_STATUSES as readonly string[]).includes(row.status ?? '');
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
const SOURCES = ['warm', 'affinity', 'cold'] as const;

/** An ended lease's record: the row's state, with the coordinator's freshness fields while it still holds them. */
function recordView(row: SandboxRow, lease?: LeaseRecord): LeaseState {
  const created = row.createdAt ?? new Date(0);
  return {
    id: row.leaseId,
    agent_id: row.agentId,
    task_id: row.taskId,
    repo_url: row.repoUrl,
    branch: row.branch ?? 'main',
    agent_branch: row.agentBranch ?? '',
    status: row.status ?? 'terminated',
    workdir: row.workdir,
    created_at: created.toISOString(),
    expires_at: (row.expiresAt ?? created).toISOString(),
    lease_source: SOURCES.find((s) => s === row.leaseSource) ?? 'cold',
    mode: row.mode === 'direct' ? 'direct' : 'pooled',
    base_commit: lease?.base_commit ?? null,
    fetched_at: lease?.fetched_at ? new Date(lease.fetched_at).toISOString() : null,
    ended_at: iso(row.terminatedAt),
    last_operation: row.lastOperation,
    ...failureOf(lease),
  };
}

/**
 * The caller's lease: its live view while active; once ended, its final record from git_sandboxes
 * (projected first if the row still lags), or the coordinator's own record when the database is
 * out of reach. A lease of another agent, or unknown, is a 404.
 */
export async function leaseState(ctx: ServiceContext, agentId: string, id: string): Promise<LeaseState> {
  const pool = leasePool(ctx.env, id);
  const r = await pool.lookup(id, agentId);
  if (r.ok) return leaseView(r.lease);
  if (r.reason === 'not_found') {
    // The coordinator forgets ended leases after a week; Postgres keeps them for RETENTION_DAYS.
    const row = await leaseRow(ctx, agentId, id);
    if (!ended(row)) throw lookupError(r, id);
    return recordView(row);
  }
  try {
    let row = await leaseRow(ctx, agentId, id);
    if (!ended(row)) {
      await pool.project();
      row = await leaseRow(ctx, agentId, id);
    }
    if (ended(row)) return recordView(row, r.lease);
  } catch (e) {
    if (!isAppError(e) || e.code !== 'DATABASE_UNAVAILABLE') throw e;
    ctx.log.warn('lease_record_unavailable', { lease: id, error: e.internal?.slice(0, 300) });
  }
  if (!r.lease) throw lookupError(r, id);
  return { ...leaseView(r.lease), status: r.reason, ended_at: null, last_operation: null };
}

/** Throws 404 unless the lease is the caller's (active, ended, or only in the history). */
async function assertOwnLease(ctx: ServiceContext, agentId: string, id: string): Promise<void> {
  const r = await leasePool(ctx.env, id).lookup(id, agentId);
  if (r.ok || r.reason !== 'not_found') return;
  if (!(await leaseRow(ctx, agentId, id))) throw lookupError(r, id);
}

/** The public view of an operation row. */
function operationView(o: OperationRow): Operation {
  return {
    id: o.id,
    lease_id: o.leaseId,
    repo_url: o.repoUrl,
    op: o.op,
    started_at: o.startedAt.toISOString(),
    duration_ms: o.durationMs,
    attempts: o.attempts,
    lock_wait_ms: o.lockWaitMs,
    result: o.result,
    commit_sha: o.commitSha,
    target_branch: o.targetBranch,
    error: o.error,
    detail: o.detail && typeof o.detail === 'object' && !Array.isArray(o.detail) ? (o.detail as Record<string, unknown>) : null,
  };
}

/** One page of operations matching `where`, oldest first, keyed on id. */
async function operationPage(ctx: ServiceContext, where: SQL[], q: OperationsQuery): Promise<OperationPage> {
  if (q.cursor) where.push(gt(gitOperations.id, Number(q.cursor)));
  const rows = await query(() => ctx.db().select().from(gitOperations).where(and(...where)).orderBy(asc(gitOperations.id)).limit(q.limit));
  const last = rows.at(-1);
  return { operations: rows.map(operationView), next_cursor: rows.length === q.limit && last ? String(last.id) : null };
}

/** The git_operations rows of one of the caller's leases, oldest first. */
export async function leaseOperations(ctx: ServiceContext, agentId: string, id: string, q: OperationsQuery): Promise<OperationPage> {
  await assertOwnLease(ctx, agentId, id);
  return operationPage(ctx, [eq(gitOperations.leaseId, id)], q);
}

/** The caller's own operations across leases, optionally on one repository and since a time, oldest first. */
export async function agentOperations(ctx: ServiceContext, agentId: string, q: AgentOperationsQuery): Promise<OperationPage> {
  const where: SQL[] = [eq(gitOperations.agentId, agentId)];
  if (q.repo) where.push(eq(gitOperations.repoUrl, parseRepoUrl(q.repo).url));
  if (q.since) where.push(gte(gitOperations.startedAt, new Date(q.since)));
  return operationPage(ctx, where, q);
}
