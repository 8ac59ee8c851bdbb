// The one writer of git_sandboxes: copies the PoolCoordinator's lease outbox to Postgres in
// batches, idempotently (each row is an upsert of the lease's state as the coordinator holds it).
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { gitSandboxes } from '../db/schema.ts';
import type { LeaseRecord } from './types.ts';

/** The outbox table: one row per lease transition, appended in the transition's synchronous block. */
export const OUTBOX_SQL = `CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, lease_id TEXT NOT NULL, op TEXT NOT NULL, error TEXT, at INTEGER NOT NULL)`;

/** One outbox row joined with its lease's current state. */
export interface OutboxRow extends LeaseRecord {
  seq: number;
  op: string;
  error: string | null;
  at: number;
}

/** The status a lease row shows: a release reads `released`; other ends keep the coordinator's word. */
export function rowStatus(status: LeaseRecord['status'], op: string): string {
  if (status === 'terminated') return op === 'release' ? 'released' : op === 'clone_failed' ? 'error' : 'terminated';
  return status;
}

/** The latest transition of each lease in a batch, with how many of its transitions carried an error. */
export function collapse(rows: readonly OutboxRow[]): { row: OutboxRow; errors: number; error: string | null }[] {
  const by = new Map<string, { row: OutboxRow; errors: number; error: string | null }>();
  for (const r of rows) {
    const prev = by.get(r.id);
    by.set(r.id, { row: r, errors: (prev?.errors ?? 0) + (r.error ? 1 : 0), error: r.error ?? prev?.error ?? null });
  }
  return [...by.values()];
}

/** Upserts the collapsed batch into git_sandboxes; `seal` turns error text into the stored (encrypted) form. */
export async function projectBatch(db: Db, rows: readonly OutboxRow[], seal: (text: string) => Promise<string | null>): Promise<void> {
  const items = collapse(rows);
  if (!items.length) return;
  const values = await Promise.all(
    items.map(async ({ row, errors, error }) => {
      const status = rowStatus(row.status, row.op);
      const ended = status === 'released' || status === 'terminated' || status === 'expired' || status === 'error';
      return {
        leaseId: row.id,
        sandboxId: row.sandbox_id,
        agentId: row.agent_id,
        taskId: row.task_id,
        repoUrl: row.repo_url,
        branch: row.branch,
        agentBranch: row.agent_branch,
        status,
        lastOperation: row.op,
        lastUsedAt: new Date(row.at),
        terminatedAt: ended ? new Date(row.at) : null,
        releasedAt: status === 'released' ? new Date(row.at) : null,
        errorCount: errors,
        lastError: error ? await seal(error) : null,
        config: { ttl_ms: row.expires_at - row.created_at },
        isPooled: row.mode === 'pooled',
        workdir: row.workdir,
        expiresAt: new Date(row.expires_at),
        leaseSource: row.source,
        mode: row.mode,
        createdAt: new Date(row.created_at),
      };
    }),
  );
  await db
    .insert(gitSandboxes)
    .values(values)
    .onConflictDoUpdate({
      target: gitSandboxes.leaseId,
      set: {
        status: sql`excluded.status`,
        lastOperation: sql`excluded.last_operation`,
        lastUsedAt: sql`excluded.last_used_at`,
        terminatedAt: sql`coalesce(${gitSandboxes.terminatedAt}, excluded.terminated_at)`,
        releasedAt: sql`coalesce(${gitSandboxes.releasedAt}, excluded.released_at)`,
        errorCount: sql`${gitSandboxes.errorCount} + excluded.error_count`,
        lastError: sql`coalesce(excluded.last_error, ${gitSandboxes.lastError})`,
        workdir: sql`coalesce(excluded.workdir, ${gitSandboxes.workdir})`,
        expiresAt: sql`excluded.expires_at`,
      },
    });
}
