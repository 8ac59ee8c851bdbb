// Pure lock decisions, kept apart from the DO so unit tests reach them without bindings.

/** The stored lock state. */
export interface LockState {
  holder: string | null;
  token: number;
  expires_at: number;
  granted_at: number;
}

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
