import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { LEASE_ID_PATTERN } from '../../src/contract.ts';
import { leasePrincipal, principalUser, verifyAuthorization, gatewayAuthorization } from '../../src/gateway/credentials.ts';
import { randomId } from '../../src/lib/crypto.ts';
import {
  groupByShard, mergeDrainReports, mergeLeasePages, mergeLeases, mergeStats, routeLeaseId, shardName, shardOfLeaseId, shardOfName, shardOfRepo, shardSettings, shareOf, withShard,
  shardLocationHint,
} from '../../src/pool/shards.ts';
import { settingsFromConfig } from '../../src/pool/storage.ts';
import type { LeaseRecord, PoolSettings, PoolStats } from '../../src/pool/types.ts';

const repos = Array.from({ length: 200 }, (_, i) => `github.com/acme/repo-${i}`);

const settings: PoolSettings = {
  poolMin: 7, poolMax: 20, maxSandboxes: 50, createPerSec: 5, leaseWaitMs: 1000, maxWaiters: 10, ttlS: 600, idleMaxAgeS: 600,
  reusePolicy: 'reuse', maxLeasesPerAgent: 5, maxStalenessS: 30,
  prewarmRepos: repos.slice(0, 12).map((key) => ({ key, url: `https://${key}`, host: 'github.com', branch: 'main' })),
};

function lease(created_at: number, id: string): LeaseRecord {
  return { id, created_at } as LeaseRecord;
}

describe('pool shards: routing', () => {
  it('names shard 0 `global` and shard i `global-s<i>`, and reads the index back from the name', () => {
    expect(shardName(0)).toBe('global');
    expect(shardName(3)).toBe('global-s3');
    for (let i = 0; i < 64; i++) expect(shardOfName(shardName(i))).toBe(i);
    for (const other of ['prewarm-1234', 'global-s0', 'global-s01', 'global-', 'xglobal-s2', undefined, null]) expect(shardOfName(other)).toBe(0);
  });

  it('puts a repo on the same shard every time, spread over the shards, and always on 0 with one shard', () => {
    for (const k of [1, 2, 3, 7, 64]) {
      const seen = new Set<number>();
      for (const r of repos) {
        const s = shardOfRepo(r, k);
        expect(s).toBe(shardOfRepo(r, k));
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThan(k);
        seen.add(s);
      }
      if (k <= 7) expect(seen.size).toBe(k);
    }
    for (const r of repos) expect(shardOfRepo(r, 1)).toBe(0);
    // Stable across deployments and runtimes (FNV-1a of the key), not only within this process.
    expect(shardOfRepo('github.com/acme/repo-0', 3)).toBe(shardOfRepo('github.com/acme/repo-0', 3));
  });

  it('writes the minting shard into the first byte of a lease id, keeping the public id format', () => {
    for (const shard of [0, 1, 15, 16, 63]) {
      const id = withShard(randomId('sbx'), shard);
      expect(id).toMatch(LEASE_ID_PATTERN);
      expect(id.slice(4, 6)).toBe(shard.toString(16).padStart(2, '0'));
      expect(shardOfLeaseId(id)).toBe(shard);
    }
    expect(withShard(randomId('sbx'), 0)).toMatch(/^sbx_00[0-9a-f]{22}$/);
    expect(() => withShard('sbx_12', 1)).toThrow();
    expect(() => withShard(randomId('sbx'), 256)).toThrow();
  });

  it('routes an id to its minting shard while it exists, else to shard 0; K=1 is always 0', () => {
    const id5 = withShard(randomId('sbx'), 5);
    expect(routeLeaseId(id5, 6)).toBe(5);
    expect(routeLeaseId(id5, 64)).toBe(5);
    expect(routeLeaseId(id5, 5)).toBe(0);
    expect(routeLeaseId(id5, 1)).toBe(0);
    for (let i = 0; i < 50; i++) expect(routeLeaseId(randomId('sbx'), 1)).toBe(0);
    expect(routeLeaseId('not-an-id', 8)).toBe(0);
    const ids = [withShard(randomId('sbx'), 1), withShard(randomId('sbx'), 2), withShard(randomId('sbx'), 1), withShard(randomId('sbx'), 9)];
    expect(groupByShard(ids, 3)).toEqual(new Map([[1, [ids[0], ids[2]]], [2, [ids[1]]], [0, [ids[3]]]]));
  });

  it('gives a lease on shard 0 the plain id as its gateway user and names the pool of any other shard', async () => {
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const id0 = withShard(randomId('sbx'), 0);
    const id2 = withShard(randomId('sbx'), 2);
    expect(leasePrincipal(id0)).toBe(id0);
    expect(leasePrincipal(id2)).toBe(principalUser(id2, 'global-s2'));
    expect(await verifyAuthorization(key, await gatewayAuthorization(key, leasePrincipal(id0)))).toEqual({ id: id0, pool: 'global' });
    expect(await verifyAuthorization(key, await gatewayAuthorization(key, leasePrincipal(id2)))).toEqual({ id: id2, pool: 'global-s2' });
  });
});

describe('pool shards: per-shard settings', () => {
  it('splits integer totals so the shares sum to the total, the first total % K shards taking one more', () => {
    for (const total of [0, 1, 2, 3, 7, 10, 64, 1000]) {
      for (const k of [1, 2, 3, 7, 64]) {
        const shares = Array.from({ length: k }, (_, i) => shareOf(total, k, i));
        expect(shares.reduce((a, b) => a + b, 0)).toBe(total);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
    expect([0, 1, 2].map((i) => shareOf(7, 3, i))).toEqual([3, 2, 2]);
    expect(shareOf(7, 3, 3)).toBe(0);
  });

  it('leaves one shard exactly as configured', () => {
    expect(shardSettings(settings, 1, 0)).toBe(settings);
    expect(settingsFromConfig(parseConfig({ POOL_MIN: '4', PREWARM_REPOS: '' }))).toMatchObject({ poolMin: 4, poolMax: 10, maxSandboxes: 20, createPerSec: 5 });
  });

  it('gives each of K shards its share of the pool totals and the pre-warmed repos that route to it', () => {
    const k = 3;
    const shards = Array.from({ length: k }, (_, i) => shardSettings(settings, k, i));
    const sum = (f: (s: PoolSettings) => number) => shards.reduce((n, s) => n + f(s), 0);
    expect(sum((s) => s.poolMin)).toBe(7);
    expect(sum((s) => s.poolMax)).toBe(20);
    expect(sum((s) => s.maxSandboxes)).toBe(50);
    expect(sum((s) => s.createPerSec)).toBeCloseTo(5);
    shards.forEach((s, i) => {
      expect(s.poolMin).toBeLessThanOrEqual(s.poolMax);
      expect(s.prewarmRepos.every((r) => shardOfRepo(r.key, k) === i)).toBe(true);
      expect([s.maxLeasesPerAgent, s.ttlS, s.leaseWaitMs]).toEqual([5, 600, 1000]);
    });
    expect(shards.flatMap((s) => s.prewarmRepos.map((r) => r.key)).sort()).toEqual(settings.prewarmRepos.map((r) => r.key).sort());
    // MAX_SANDBOXES never splits below one per shard; a shard beyond K keeps no pool.
    expect(shardSettings({ ...settings, maxSandboxes: 2 }, 3, 2).maxSandboxes).toBe(1);
    expect(shardSettings(settings, 3, 5)).toMatchObject({ poolMin: 0, poolMax: 0, maxSandboxes: 1, prewarmRepos: [] });
  });

  it('reads POOL_SHARDS (1..64, default 1) into the coordinator settings', () => {
    expect(parseConfig({}).POOL_SHARDS).toBe(1);
    expect(parseConfig({ POOL_SHARDS: '' }).POOL_SHARDS).toBe(1);
    expect(() => parseConfig({ POOL_SHARDS: '0' })).toThrow(/POOL_SHARDS/);
    expect(() => parseConfig({ POOL_SHARDS: '65' })).toThrow(/POOL_SHARDS/);
    const cfg = parseConfig({ POOL_SHARDS: '4', POOL_MIN: '6', POOL_MAX: '10', MAX_SANDBOXES: '20' });
    expect([0, 1, 2, 3].map((i) => settingsFromConfig(cfg, i).poolMin)).toEqual([2, 2, 1, 1]);
    expect([0, 1, 2, 3].map((i) => settingsFromConfig(cfg, i).maxSandboxes)).toEqual([5, 5, 5, 5]);
  });
});

describe('pool shards: merging the answers of every shard', () => {
  it('orders merged leases by (created_at, id) and takes one page of the merged pages', () => {
    const a = [lease(1, 'sbx_00a'), lease(5, 'sbx_00b'), lease(9, 'sbx_00c')];
    const b = [lease(2, 'sbx_01a'), lease(5, 'sbx_01b'), lease(6, 'sbx_01c')];
    const c = [lease(5, 'sbx_02a')];
    expect(mergeLeases([a, b, c]).map((l) => l.id)).toEqual(['sbx_00a', 'sbx_01a', 'sbx_00b', 'sbx_01b', 'sbx_02a', 'sbx_01c', 'sbx_00c']);
    expect(mergeLeasePages([a, b, c], 3).map((l) => l.id)).toEqual(['sbx_00a', 'sbx_01a', 'sbx_00b']);
  });

  it('pages through every shard without skipping or repeating a lease', () => {
    const shards: LeaseRecord[][] = [[], [], []];
    for (let i = 0; i < 40; i++) {
      const id = withShard(randomId('sbx'), i % 3);
      shards[i % 3].push(lease(Math.floor(i / 4), id));
    }
    for (const s of shards) s.sort((x, y) => x.created_at - y.created_at || (x.id < y.id ? -1 : 1));
    // What each coordinator answers: its first `limit` leases after the cursor, as SQLite orders them.
    const page = (s: LeaseRecord[], limit: number, after?: LeaseRecord) =>
      s.filter((l) => !after || l.created_at > after.created_at || (l.created_at === after.created_at && l.id > after.id)).slice(0, limit);
    const seen: string[] = [];
    let after: LeaseRecord | undefined;
    for (;;) {
      const p = mergeLeasePages(shards.map((s) => page(s, 7, after)), 7);
      seen.push(...p.map((l) => l.id));
      if (p.length < 7) break;
      after = p.at(-1);
    }
    expect(seen).toEqual(mergeLeases(shards).map((l) => l.id));
    expect(new Set(seen).size).toBe(40);
  });

  it('sums stats: gauges, counters, waiters, active leases and the split settings; draining if any shard is', () => {
    const st = (i: number, draining = false): PoolStats => ({
      members: { 'idle:pooled': i + 1, [`leased:direct`]: i },
      waiters: i,
      leases_active: 2 * i,
      counters: { 'creates_total{mode="pooled"}': 10 + i, [`only_${i}`]: 1 },
      settings: shardSettings(settings, 3, i),
      idle: [{ sandbox_id: `s${i}`, repo_key: null }],
      draining,
      projection_backlog: 100 * i,
    });
    const one = mergeStats([st(0)]);
    expect(one).toEqual({ ...st(0), shards: 1 });
    const m = mergeStats([st(0), st(1), st(2, true)]);
    expect(m.shards).toBe(3);
    expect(m.members).toEqual({ 'idle:pooled': 6, 'leased:direct': 3 });
    expect(m.waiters).toBe(3);
    expect(m.leases_active).toBe(6);
    expect(m.projection_backlog).toBe(300);
    expect(m.counters).toEqual({ 'creates_total{mode="pooled"}': 33, only_0: 1, only_1: 1, only_2: 1 });
    expect(m.idle.map((x) => x.sandbox_id)).toEqual(['s0', 's1', 's2']);
    expect(m.draining).toBe(true);
    expect(m.settings).toMatchObject({ poolMin: 7, poolMax: 20, maxSandboxes: 50, ttlS: 600 });
    expect(m.settings.createPerSec).toBeCloseTo(5);
    expect(m.settings.prewarmRepos).toHaveLength(12);
    expect(mergeStats([st(0), st(1)]).draining).toBe(false);
  });

  it('adds up drain reports', () => {
    const r = (n: number) => ({ draining: true as const, force: true, idle_terminated: n, leases_ended: 2 * n, leases_active: 3 * n });
    expect(mergeDrainReports([r(1), r(2), r(0)], true)).toEqual({ draining: true, force: true, idle_terminated: 3, leases_ended: 6, leases_active: 9 });
  });
});

describe('pool shards: location hints', () => {
  it('gives shard i the i-th of POOL_LOCATION_HINTS, round-robin, and none when the list is empty', () => {
    expect([0, 1, 2, 3].map((i) => shardLocationHint('weur, enam', i))).toEqual(['weur', 'enam', 'weur', 'enam']);
    expect(shardLocationHint('', 0)).toBeUndefined();
  });

  it('refuses a hint Durable Objects do not know, naming the var', () => {
    expect(parseConfig({ POOL_LOCATION_HINTS: 'weur,apac' }).POOL_LOCATION_HINTS).toBe('weur,apac');
    expect(() => parseConfig({ POOL_LOCATION_HINTS: 'weur,mars' })).toThrow(/POOL_LOCATION_HINTS/);
  });
});
