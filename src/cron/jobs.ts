// Cron Triggers: health (*/5), cleanup + reconciliation (*/10), retention purge (daily).
import { and, inArray, lt, sql } from 'drizzle-orm';
import { gitOperations, gitSandboxes } from '../db/schema.ts';
import { ACTIVE_STATUSES } from '../pool/types.ts';
import { poolStub, type ServiceContext } from '../services/context.ts';

export const CRON_HEALTH = '*/5 * * * *';
export const CRON_CLEANUP = '*/10 * * * *';
export const CRON_RETENTION = '17 3 * * *';

/** Replaces dead sandboxes and fails leases whose sandbox died. */
export async function healthJob(ctx: ServiceContext): Promise<Record<string, number>> {
  const r = await poolStub(ctx.env).healthCheck();
  return { checked: r.checked, dead: r.dead };
}

/** Expires overdue leases, kills orphans, and marks rows terminated that the pool no longer holds. */
export async function cleanupJob(ctx: ServiceContext): Promise<Record<string, number>> {
  const pool = poolStub(ctx.env);
  const c = await pool.cleanup();
  const r = { expired: c.expired, orphans: c.orphans };
  const db = ctx.db();
  const open = await db
    .select({ leaseId: gitSandboxes.leaseId })
    .from(gitSandboxes)
    .where(and(inArray(gitSandboxes.status, [...ACTIVE_STATUSES]), lt(gitSandboxes.createdAt, new Date(Date.now() - 60_000))))
    .limit(1000);
  const active = new Set(await pool.activeLeaseIds(open.map((row) => row.leaseId)));
  const stale = open.map((row) => row.leaseId).filter((id) => !active.has(id));
  if (stale.length) {
    await db.update(gitSandboxes).set({ status: 'terminated', terminatedAt: new Date(), lastOperation: 'reconcile' }).where(inArray(gitSandboxes.leaseId, stale));
  }
  return { ...r, reconciled: stale.length };
}

/** Deletes git_operations older than RETENTION_DAYS and terminated lease rows older than that too. */
export async function retentionJob(ctx: ServiceContext): Promise<Record<string, number>> {
  const cutoff = new Date(Date.now() - ctx.cfg.RETENTION_DAYS * 86_400_000);
  const db = ctx.db();
  const ops = await db.delete(gitOperations).where(lt(gitOperations.startedAt, cutoff)).returning({ id: gitOperations.id });
  const rows = await db
    .delete(gitSandboxes)
    .where(and(inArray(gitSandboxes.status, ['terminated', 'error']), lt(sql`coalesce(${gitSandboxes.terminatedAt}, ${gitSandboxes.createdAt})`, cutoff)))
    .returning({ id: gitSandboxes.id });
  return { operations_deleted: ops.length, leases_deleted: rows.length };
}

/** Runs the job for a cron expression. */
export async function runCron(ctx: ServiceContext, cron: string): Promise<Record<string, number>> {
  if (cron === CRON_HEALTH) return healthJob(ctx);
  if (cron === CRON_CLEANUP) return cleanupJob(ctx);
  if (cron === CRON_RETENTION) return retentionJob(ctx);
  ctx.log.warn('cron_unknown', { cron });
  return {};
}
