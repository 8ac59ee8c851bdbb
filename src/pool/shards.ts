// Pool sharding: which PoolCoordinator (shard) serves a repo or a lease id, each shard's share of
// the deployment's pool totals, and how the answers of every shard combine. Pure: no I/O.
import { fnv1a } from '../lib/crypto.ts';
import type { DrainReport, LeaseRecord, PoolSettings, PoolStats } from './types.ts';

/** Most shards a deployment may run (POOL_SHARDS); a lease id's first byte could name up to 256. */
export const MAX_SHARDS = 64;

/** The name of shard 0: the single pool of an unsharded deployment. */
export const BASE_POOL = 'global';

const SHARD_NAME = /^global-s([1-9][0-9]{0,2})$/;
const LEASE_ID = /^sbx_([0-9a-f]{2})[0-9a-f]{22}$/;

/** The coordinator name of shard `i`: `global` for 0 (as before sharding), `global-s<i>` after. */
export function shardName(i: number): string {
  return i === 0 ? BASE_POOL : `${BASE_POOL}-s${i}`;
}

/** The location hint shard `i` is created with: POOL_LOCATION_HINTS round-robin over the shards (none when empty). */
export function shardLocationHint(hints: string, i: number): string | undefined {
  const list = hints.split(',').map((x) => x.trim()).filter(Boolean);
  return list.length ? list[i % list.length] : undefined;
}

/** The shard index a coordinator name stands for; any other name (a test's own pool) is 0. */
export function shardOfName(name: string | null | undefined): number {
  const m = SHARD_NAME.exec(name ?? '');
  const i = m ? Number(m[1]) : 0;
  return i < 256 ? i : 0;
}

/** The shard a repo's new leases go to: a stable hash of its key, so its warm clones, tips and lander stay together. */
export function shardOfRepo(repoKey: string, shards: number): number {
  return shards <= 1 ? 0 : fnv1a(repoKey) % shards;
}

/** A lease id (`sbx_` + 24 hex) with its first byte set to the shard that minted it. */
export function withShard(id: string, shard: number): string {
  if (!LEASE_ID.test(id) || !Number.isInteger(shard) || shard < 0 || shard > 255) throw new Error(`withShard: bad lease id or shard ${shard}`);
  return `sbx_${shard.toString(16).padStart(2, '0')}${id.slice(6)}`;
}

/** The shard that minted a lease id (its first byte; independent of the shard count). Not a lease id: 0. */
export function shardOfLeaseId(id: string): number {
  const m = LEASE_ID.exec(id);
  return m ? parseInt(m[1], 16) : 0;
}

/** The shard to ask about a lease id: its minting shard, or shard 0 when that is beyond the shard count (then: not found). */
export function routeLeaseId(id: string, shards: number): number {
  const s = shardOfLeaseId(id);
  return s < shards ? s : 0;
}

/** Groups ids by the shard routeLeaseId sends them to. */
export function groupByShard(ids: readonly string[], shards: number): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const id of ids) {
    const s = routeLeaseId(id, shards);
    out.set(s, [...(out.get(s) ?? []), id]);
  }
  return out;
}

/** Shard `shard`'s part of an integer total: the first `total % shards` shards take one more, so the parts sum to the total. */
export function shareOf(total: number, shards: number, shard: number): number {
  if (shard >= shards) return 0;
  return Math.floor(total / shards) + (shard < total % shards ? 1 : 0);
}

/**
 * One shard's settings from the deployment's: POOL_MIN, POOL_MAX, MAX_SANDBOXES (at least 1) and
 * CREATE_PER_SEC are split over the shards; PREWARM_REPOS keeps the repos that route to the shard.
 * A shard beyond the count (after POOL_SHARDS shrank) gets no pool and only drains.
 */
export function shardSettings(s: PoolSettings, shards: number, shard: number): PoolSettings {
  if (shards <= 1 && shard === 0) return s;
  return {
    ...s,
    poolMin: shareOf(s.poolMin, shards, shard),
    poolMax: shareOf(s.poolMax, shards, shard),
    maxSandboxes: Math.max(1, shareOf(s.maxSandboxes, shards, shard)),
    createPerSec: s.createPerSec / shards,
    prewarmRepos: s.prewarmRepos.filter((r) => shardOfRepo(r.key, shards) === shard),
  };
}

/** Orders leases as one coordinator pages them: by created_at, then id (SQLite's binary order). */
export function byCreated(a: Pick<LeaseRecord, 'created_at' | 'id'>, b: Pick<LeaseRecord, 'created_at' | 'id'>): number {
  return a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Leases of every shard in one list, oldest first. */
export function mergeLeases(lists: readonly LeaseRecord[][]): LeaseRecord[] {
  return lists.flat().sort(byCreated);
}

/**
 * One page of active leases from each shard's page after the same cursor with the same limit: the
 * first `limit` in (created_at, id) order. Every lease before the page's last is in some shard's page,
 * so paging on from the last one's cursor skips and repeats nothing.
 */
export function mergeLeasePages(pages: readonly LeaseRecord[][], limit: number): LeaseRecord[] {
  return mergeLeases(pages).slice(0, limit);
}

/** The stats of every shard as one pool, and how many shards answered. */
export type ShardedPoolStats = PoolStats & { shards: number };

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Sums the shards' stats: member gauges, waiters, active leases and counters add; settings are
 * shard 0's with the split totals (pool min/max, max sandboxes, create rate) summed back and every
 * shard's pre-warmed repos; draining while any shard drains.
 */
export function mergeStats(stats: readonly PoolStats[]): ShardedPoolStats {
  if (!stats.length) throw new Error('mergeStats: no shard answered');
  const [first, ...rest] = stats;
  const out: ShardedPoolStats = {
    ...first,
    members: { ...first.members },
    counters: { ...first.counters },
    idle: [...first.idle],
    settings: { ...first.settings, prewarmRepos: [...first.settings.prewarmRepos] },
    shards: stats.length,
  };
  for (const s of rest) {
    addInto(out.members, s.members);
    addInto(out.counters, s.counters);
    out.waiters += s.waiters;
    out.leases_active += s.leases_active;
    out.projection_backlog += s.projection_backlog;
    out.idle.push(...s.idle);
    out.draining ||= s.draining;
    out.settings.poolMin += s.settings.poolMin;
    out.settings.poolMax += s.settings.poolMax;
    out.settings.maxSandboxes += s.settings.maxSandboxes;
    out.settings.createPerSec += s.settings.createPerSec;
    out.settings.prewarmRepos.push(...s.settings.prewarmRepos);
  }
  return out;
}

/** The drain reports of every shard as one. */
export function mergeDrainReports(reports: readonly DrainReport[], force: boolean): DrainReport {
  return {
    draining: true,
    force,
    idle_terminated: reports.reduce((n, r) => n + r.idle_terminated, 0),
    leases_ended: reports.reduce((n, r) => n + r.leases_ended, 0),
    leases_active: reports.reduce((n, r) => n + r.leases_active, 0),
  };
}
