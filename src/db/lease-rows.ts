// Appends git_operations rows (the history the API and operators read); git_sandboxes has one
// writer, the PoolCoordinator's projector (src/pool/projector.ts).
import { parseConfig, SECRET_KEYS } from '../config.ts';
import { redact } from '../lib/redact.ts';
import type { Db } from './client.ts';
import { gitOperations } from './schema.ts';

/** Redacts text with the configured secrets. */
export function redactFor(env: Env, text: string): string {
  const cfg = parseConfig(env);
  return redact(text, SECRET_KEYS.map((k) => cfg[k]));
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
