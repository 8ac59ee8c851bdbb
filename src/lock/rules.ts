// Pure rules of the repo lock: who gets it next, how long to back off, how locks and queue entries
// are named. Kept apart from the DO so unit tests reach them without bindings.

/** Whether the head waiter gets the lock: only if its request is still alive and within its deadline. */
export function decideGrant(w: { hasResolver: boolean; deadline: number; now: number }): 'grant' | 'drop' {
  return w.hasResolver && w.deadline > w.now ? 'grant' : 'drop';
}

/** Exponential backoff with full jitter: base·2^attempt capped, times a random factor in [0.5, 1). */
export function backoffMs(attempt: number, baseMs: number, capMs: number, rand: number): number {
  const exp = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(exp * (0.5 + rand / 2));
}

/** The DO name of the lock for a repo + target branch. */
export function lockName(repoKey: string, branch: string): string {
  return `${repoKey}#${branch}`;
}

/**
 * The id of a queued entry, which also names its queue ref: `<lease id>-<suffix>`, the form the
 * gateway lets a lease create (src/gateway/ref-rules.ts). Lease ids hold no `-`.
 */
export function entryIdFor(leaseId: string, suffix: string): string {
  return `${leaseId}-${suffix}`;
}

/** The lease that parked a queue ref named by entryIdFor (for refs no RepoLock entry describes). */
export function leaseOfQueueRef(entryId: string): string {
  const at = entryId.indexOf('-');
  return at < 0 ? entryId : entryId.slice(0, at);
}
