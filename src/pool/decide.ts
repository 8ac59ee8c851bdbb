// Pure pool decisions: creation rate limiting, retirement jitter, sizing. (Which idle member serves
// a lease is an indexed query: PoolStore.pickIdle.)

/** A pool member as the coordinator stores it. */
export interface Member {
  sandbox_id: string;
  state: 'creating' | 'idle' | 'leased' | 'scrubbing' | 'refreshing';
  repo_key: string | null;
  /** The clone's repository and base branch, and the commit its origin/<base> is at (service-verified). */
  repo_url?: string | null;
  base_branch?: string | null;
  base_commit?: string | null;
  /** When the member last turned idle (null while not idle). */
  idle_since?: number | null;
  home: string | null;
  created_at: number;
  retire_at: number;
  lease_id: string | null;
  mode: 'pooled' | 'direct';
}

export type LeaseSource = 'warm' | 'affinity' | 'cold';

/** Milliseconds to wait before another creation is allowed, given recent creation times (rolling 1 s window). */
export function createDelayMs(recent: readonly number[], perSec: number, now: number): number {
  const window = 1000;
  const inWindow = recent.filter((t) => t > now - window).sort((a, b) => a - b);
  const allowed = Math.max(1, Math.floor(perSec));
  if (inWindow.length < allowed) return 0;
  return inWindow[inWindow.length - allowed] + window - now;
}

/** Retirement time of a member: max age with ±10 % jitter so a warm pool does not expire at once. */
export function retireAt(createdAt: number, maxAgeS: number, rand: number): number {
  const jitter = 0.9 + 0.2 * rand;
  return createdAt + Math.round(maxAgeS * 1000 * jitter);
}

/** The demand window the pool sizes itself from, and its bucket (peaks are kept per bucket; the coordinator looks again each bucket while it holds demand). */
export const DEMAND_WINDOW_MS = 5 * 60_000;
export const DEMAND_BUCKET_MS = 10_000;

/** Recent demand as the coordinator records it at each grant. */
export interface Demand {
  /** The most agent leases active at once within the demand window (0: no lease in the window). */
  peakActive: number;
  /** Agent leases active now. */
  activeNow: number;
}

/**
 * Idle members to keep: as many as it takes to bring the leased and idle members back up to the
 * window's peak of concurrent leases, plus one spare while there is demand (an agent that releases
 * and leases again at once finds it while its old member is scrubbed), at least POOL_MIN, at most
 * POOL_MAX. Agents that lease, release and lease again need no more members than they hold at once,
 * so a pool sized on concurrency pays for far fewer idle sandboxes than one sized on arrival counts
 * or a fixed POOL_MIN; a repeat of the peak after a quiet spell finds the members warm. With no
 * lease in the window the pool shrinks to POOL_MIN.
 */
export function demandTarget(d: Demand, poolMin: number, poolMax: number): number {
  const wanted = d.peakActive > 0 ? Math.max(0, d.peakActive - d.activeNow) + 1 : 0;
  return Math.max(poolMin, Math.min(poolMax, wanted));
}

/** How many members to create now to keep `min` idle without passing `max` total. */
export function refillCount(idleOrCreating: number, total: number, min: number, maxTotal: number): number {
  return Math.max(0, Math.min(min - idleOrCreating, maxTotal - total));
}

/** The prewarm repo with the fewest idle or incoming members holding it (first listed wins ties). */
export function prewarmPick<R extends { key: string }>(repos: readonly R[], members: readonly Member[]): R | null {
  if (!repos.length) return null;
  const counts = new Map(repos.map((r) => [r.key, 0]));
  for (const m of members) {
    if (m.repo_key && counts.has(m.repo_key) && (m.state === 'idle' || m.state === 'creating')) counts.set(m.repo_key, (counts.get(m.repo_key) ?? 0) + 1);
  }
  return [...repos].sort((a, b) => (counts.get(a.key) ?? 0) - (counts.get(b.key) ?? 0))[0];
}

/** Life to give a pool sandbox at the provider: past its idle retirement and a full lease, plus margin. */
export function idleTimeoutMs(s: { idleMaxAgeS: number; ttlS: number }): number {
  return (Math.max(s.idleMaxAgeS * 1.2, s.ttlS) + 600) * 1000;
}
