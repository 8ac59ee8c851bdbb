// Writes to git_sandboxes and git_operations (the history the API and operators read).
import { eq, inArray, sql } from 'drizzle-orm';
import { parseConfig, SECRET_KEYS } from '../config.ts';
import { encryptText } from '../lib/crypto.ts';
import type { Logger } from '../lib/log.ts';
import { redact } from '../lib/redact.ts';
import type { LeaseRecord } from '../pool/types.ts';
import { withDb, type Db } from './client.ts';
import { gitOperations, gitSandboxes } from './schema.ts';

/** Fields a lease row update may change. */
export interface LeaseRowPatch {
  status?: string;
  lastOperation?: string;
  error?: string;
  expiresAt?: number;
  workdir?: string;
}

/** Redacts text with the configured secrets. */
export function redactFor(env: Env, text: string): string {
  const cfg = parseConfig(env);
  return redact(text, SECRET_KEYS.map((k) => cfg[k]));
}

/** Inserts the row for a new lease (status initializing). */
export async function insertLeaseRow(db: Db, lease: LeaseRecord, poolSize: number): Promise<void> {
  await db.insert(gitSandboxes).values({
    leaseId: lease.id,
    sandboxId: lease.sandbox_id,
    agentId: lease.agent_id,
    taskId: lease.task_id,
    repoUrl: lease.repo_url,
    branch: lease.branch,
    agentBranch: lease.agent_branch,
    status: 'initializing',
    lastOperation: 'create',
    expiresAt: new Date(lease.expires_at),
    leaseSource: lease.source,
    mode: lease.mode,
    isPooled: lease.mode === 'pooled',
    poolSize,
    config: { ttl_ms: lease.expires_at - lease.created_at },
  }).onConflictDoNothing();
}

/** Applies a patch to lease rows; an error is redacted, encrypted, and counted. */
export async function patchLeaseRows(env: Env, db: Db, ids: string[], patch: LeaseRowPatch): Promise<void> {
  if (!ids.length) return;
  const set: Record<string, unknown> = { lastUsedAt: new Date() };
  if (patch.status) set.status = patch.status;
  if (patch.lastOperation) set.lastOperation = patch.lastOperation;
  if (patch.expiresAt) set.expiresAt = new Date(patch.expiresAt);
  if (patch.workdir) set.workdir = patch.workdir;
  if (patch.status === 'terminated' || patch.status === 'error') set.terminatedAt = new Date();
  if (patch.status === 'terminated') set.releasedAt = new Date();
  if (patch.error) {
    set.lastError = await encryptText(parseConfig(env).ERROR_ENCRYPTION_KEY, redactFor(env, patch.error).slice(0, 4000));
    set.errorCount = sql`${gitSandboxes.errorCount} + 1`;
  }
  await db.update(gitSandboxes).set(set).where(ids.length === 1 ? eq(gitSandboxes.leaseId, ids[0]) : inArray(gitSandboxes.leaseId, ids));
}

/** Best-effort patch from code paths without a request database handle (DO alarms, sweeps). */
export async function markLeaseRows(env: Env, ids: string[], patch: LeaseRowPatch, log: Logger): Promise<void> {
  try {
    await withDb(env, (db) => patchLeaseRows(env, db, ids, patch));
  } catch (e) {
    log.warn('lease_row_update_failed', { leases: ids, error: String(e instanceof Error ? e.message : e) });
  }
}

/** One git_operations row. */
export interface OperationRecord {
  leaseId?: string;
  agentId?: string;
  repoUrl?: string;
  op: string;
  startedAt: number;
  durationMs: number;
  attempts?: number;
  lockWaitMs?: number;
  result: string;
  commitSha?: string;
  targetBranch?: string;
  error?: string;
  detail?: Record<string, unknown>;
}

/** Records a git operation (error text redacted). */
export async function recordOperation(env: Env, db: Db, op: OperationRecord): Promise<void> {
  await db.insert(gitOperations).values({
    leaseId: op.leaseId,
    agentId: op.agentId,
    repoUrl: op.repoUrl,
    op: op.op,
    startedAt: new Date(op.startedAt),
    durationMs: Math.round(op.durationMs),
    attempts: op.attempts ?? 1,
    lockWaitMs: op.lockWaitMs,
    result: op.result,
    commitSha: op.commitSha,
    targetBranch: op.targetBranch,
    error: op.error ? redactFor(env, op.error).slice(0, 4000) : undefined,
    detail: op.detail,
  });
}
