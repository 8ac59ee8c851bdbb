// Reads and writes of pull_requests: one row per lease that opened a pull request, its state as
// last read from GitHub. Written by the push and by the poller (on read and from the cron).
import { and, asc, eq, inArray, lt } from 'drizzle-orm';
import type { Db } from './client.ts';
import { pullRequests } from './schema.ts';

/** A stored pull request. */
export type PullRequestRow = typeof pullRequests.$inferSelect;

/** The fields a push or a refresh writes. */
export type PullRequestWrite = Omit<PullRequestRow, 'id' | 'createdAt' | 'closedAt'>;

/** Records the lease's pull request (a lease that opens another one later replaces its row). */
export async function upsertPullRequest(db: Db, w: PullRequestWrite): Promise<PullRequestRow> {
  const closedAt = w.state === 'open' ? null : w.checkedAt;
  const [row] = await db
    .insert(pullRequests)
    .values({ ...w, closedAt })
    .onConflictDoUpdate({ target: pullRequests.leaseId, set: { ...w, closedAt } })
    .returning();
  return row;
}

/** The pull request of `leaseId` if `agentId` owns it, else null. */
export async function pullRequestOf(db: Db, leaseId: string, agentId: string): Promise<PullRequestRow | null> {
  const [row] = await db.select().from(pullRequests).where(and(eq(pullRequests.leaseId, leaseId), eq(pullRequests.agentId, agentId))).limit(1);
  return row ?? null;
}

/** Open pull requests last read before `before`, oldest read first. */
export async function openPullRequestsDue(db: Db, before: Date, limit: number): Promise<PullRequestRow[]> {
  return db.select().from(pullRequests).where(and(eq(pullRequests.state, 'open'), lt(pullRequests.checkedAt, before))).orderBy(asc(pullRequests.checkedAt)).limit(limit);
}

/** Stores a refreshed state of row `id`. */
export async function updatePullRequest(db: Db, id: number, u: Pick<PullRequestRow, 'state' | 'draft' | 'autoMerge' | 'headSha' | 'mergeCommitSha' | 'checkedAt'>): Promise<PullRequestRow | null> {
  const [row] = await db.update(pullRequests).set({ ...u, closedAt: u.state === 'open' ? null : u.checkedAt }).where(eq(pullRequests.id, id)).returning();
  return row ?? null;
}

/** Deletes rows of pull requests closed or merged before `before`; returns how many. */
export async function purgeClosedPullRequests(db: Db, before: Date): Promise<number> {
  const rows = await db.delete(pullRequests).where(and(inArray(pullRequests.state, ['closed', 'merged']), lt(pullRequests.closedAt, before))).returning({ id: pullRequests.id });
  return rows.length;
}
