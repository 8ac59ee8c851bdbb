// Cron Triggers: health (*/5), cleanup + projection catch-up + pull request poll (*/10), retention purge (daily).
import { and, inArray, lt, sql } from 'drizzle-orm';
import { purgeClosedPullRequests } from '../db/pull-request-rows.ts';
import { gitOperations, gitSandboxes } from '../db/schema.ts';
import type { ServiceContext } from '../services/context.ts';
import { cleanupPools, healthCheckPools } from '../services/pools.ts';
import { pollPullRequests } from '../services/pull-requests.ts';

export const CRON_HEALTH = '*/5 * * * *';
export const CRON_CLEANUP = '*/10 * * * *';
export const CRON_RETENTION = '17 3 * * *';

/** Replaces dead sandboxes and fails leases whose sandbox died. */
export async function healthJob(ctx: ServiceContext): Promise<Record<string, number>> {
  const r = await healthCheckPools(ctx.env);
  return { checked: r.checked, dead: r.dead };
}

/** Expires overdue leases, kills orphan sandboxes, catches the lease projection up, and polls open pull requests. */
export async function cleanupJob(ctx: ServiceContext): Promise<Record<string, number>> {
  const c = await cleanupPools(ctx.env);
  const prs = await pollPullRequests(ctx).catch((e) => (ctx.log.warn('pull_request_poll_failed', { error: String(e) }), 0));
  return { expired: c.expired, orphans: c.orphans, projected: c.projected, pull_requests_changed: prs };
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
  const prs = await purgeClosedPullRequests(db, cutoff);
  return { operations_deleted: ops.length, leases_deleted: rows.length, pull_requests_deleted: prs };
}

/** Runs the job for a cron expression. */
export async function runCron(ctx: ServiceContext, cron: string): Promise<Record<string, number>> {
  if (cron === CRON_HEALTH) return healthJob(ctx);
  if (cron === CRON_CLEANUP) return cleanupJob(ctx);
  if (cron === CRON_RETENTION) return retentionJob(ctx);
  ctx.log.warn('cron_unknown', { cron });
  return {};
}
