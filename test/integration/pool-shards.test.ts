// The service with POOL_SHARDS=3: leases live in their repo's shard, are found again by id, and the
// agent- and pool-wide answers cover every shard. Real coordinators, sandboxes and git gateway.
import { runInDurableObject } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import { isAppError } from '../../src/errors.ts';
import { parseRepoUrl } from '../../src/git/validate.ts';
import { shardName, shardOfLeaseId, shardOfRepo } from '../../src/pool/shards.ts';
import type { PoolStats } from '../../src/pool/types.ts';
import { createServiceContext } from '../../src/services/context.ts';
import { LANDER_AGENT } from '../../src/gateway/ref-rules.ts';
import { execCommand } from '../../src/services/files.ts';
import { createLease, getLease, listLeases, releaseLease } from '../../src/services/leases.ts';
import { gitPush } from '../../src/services/push.ts';
import { activeLeaseIds, activeLeasePage, drainPools, poolStats, resumePools } from '../../src/services/pools.ts';
import { env, newRepo, remoteGit } from './helpers.ts';

const K = 3;
const shard = (i: number) => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(shardName(i)));
const codeOf = async (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (isAppError(e) ? e.code : String(e)));

/** A fresh repo on the local git server for each shard (repo names are random: create until every shard has one). */
async function repoPerShard(): Promise<{ name: string; url: string; key: string }[]> {
  const out = new Map<number, { name: string; url: string; key: string }>();
  for (let i = 0; out.size < K && i < 60; i++) {
    const r = await newRepo();
    const key = parseRepoUrl(r.url).key;
    if (!out.has(shardOfRepo(key, K))) out.set(shardOfRepo(key, K), { ...r, key });
  }
  expect(out.size).toBe(K);
  return [0, 1, 2].map((i) => out.get(i)!);
}

describe('pool shards (POOL_SHARDS=3)', () => {
  // The coordinators read POOL_SHARDS from the Worker's own env (1 in tests), so each shard gets its
  // test size here; no pre-warming: each lease takes a new sandbox in its own shard.
  beforeAll(async () => {
    for (let i = 0; i < K; i++) await shard(i).configure({ poolMin: 0, poolMax: 2, maxSandboxes: 5 });
  });

  it('keeps each lease in its repo shard, finds it by id, and lists, pages and counts over every shard', async () => {
    const ctx = createServiceContext({ ...env, POOL_SHARDS: String(K) } as Env);
    const repos = await repoPerShard();
    const agentId = `shard-${crypto.randomUUID().slice(0, 8)}`;

    const leases = await Promise.all(repos.map((r, i) => createLease(ctx, agentId, { repo_url: r.url, task_id: `t${i}` })));
    for (const [i, l] of leases.entries()) {
      // The clone went through the gateway with the lease's credential: ready means its shard answered.
      expect(l.status).toBe('ready');
      expect(l.id).toMatch(new RegExp(`^sbx_0${i}[0-9a-f]{22}$`));
      expect(shardOfLeaseId(l.id)).toBe(shardOfRepo(repos[i].key, K));
      // It lives in that shard and in no other.
      for (let j = 0; j < K; j++) {
        const r = await shard(j).lookup(l.id, agentId);
        expect(r.ok).toBe(i === j);
        if (i !== j) expect(r).toMatchObject({ ok: false, reason: 'not_found' });
      }
      await runInDurableObject(shard(i), async (_o: PoolCoordinator, state) => {
        const row = state.storage.sql.exec(`SELECT repo_key, sandbox_id FROM leases WHERE id=?`, l.id).toArray()[0];
        expect(row?.repo_key).toBe(repos[i].key);
        // Its sandbox is a member of the same shard.
        expect(state.storage.sql.exec(`SELECT state FROM members WHERE sandbox_id=?`, row?.sandbox_id).toArray()[0]?.state).toBe('leased');
        // The shard index is kept for an alarm that wakes the object without its name.
        expect(state.storage.sql.exec(`SELECT value FROM kv WHERE key='shard'`).toArray()[0]?.value).toBe(String(i));
      });
      // Found again by id through the router.
      expect((await getLease(ctx, agentId, l.id)).repo_key).toBe(repos[i].key);
    }

    // The agent's list merges every shard, oldest first.
    const listed = await listLeases(ctx, agentId);
    expect(listed.map((l) => l.id).sort()).toEqual(leases.map((l) => l.id).sort());
    expect(listed.map((l) => l.created_at)).toEqual([...listed.map((l) => l.created_at)].sort());

    // Operators page over every shard: pages of 1 walk all three leases in (created_at, id) order.
    const paged: string[] = [];
    for (let after: { createdAt: number; id: string } | undefined, i = 0; i < 100; i++) {
      const page = await activeLeasePage(ctx.env, 1, after);
      if (!page.length) break;
      paged.push(page[0].id);
      after = { createdAt: page[0].created_at, id: page[0].id };
    }
    expect(paged.filter((id) => leases.some((l) => l.id === id))).toEqual(listed.map((l) => l.id));
    expect(new Set(await activeLeaseIds(ctx.env, [...leases.map((l) => l.id), 'sbx_02ffffffffffffffffffffff']))).toEqual(new Set(leases.map((l) => l.id)));

    // Stats are the sum of the shards' stats.
    const per = (await Promise.all([0, 1, 2].map((i) => shard(i).stats()))) as PoolStats[];
    const sum = await poolStats(ctx.env);
    expect(sum.shards).toBe(K);
    expect(sum.leases_active).toBe(per.reduce((n, s) => n + s.leases_active, 0));
    expect(sum.leases_active).toBeGreaterThanOrEqual(K);
    expect(sum.members['leased:pooled'] ?? 0).toBe(per.reduce((n, s) => n + (s.members['leased:pooled'] ?? 0), 0));
    expect(sum.counters['creates_total{mode="pooled"}']).toBe(per.reduce((n, s) => n + (s.counters['creates_total{mode="pooled"}'] ?? 0), 0));
    expect(sum.settings.maxSandboxes).toBe(15);

    // A deployment with one shard sends ids of shard 1 and 2 to shard 0: not found there.
    const one = createServiceContext({ ...env, POOL_SHARDS: '1' } as Env);
    expect(await codeOf(getLease(one, agentId, leases[0].id))).toBe('ok');
    expect(await codeOf(getLease(one, agentId, leases[2].id))).toBe('NOT_FOUND');

    // Release by id reaches each lease's shard.
    for (const l of leases) await releaseLease(ctx, agentId, l.id);
    for (const l of leases) expect(await codeOf(getLease(ctx, agentId, l.id))).toBe('LEASE_ENDED');
    expect(await listLeases(ctx, agentId)).toEqual([]);
    await Promise.all([0, 1, 2].map((i) => shard(i).drain()));
    await ctx.close();
  });

  it('lands a push from a lease on shard 2 with a lander in the same shard, and notes the tip there', async () => {
    const ctx = createServiceContext({ ...env, POOL_SHARDS: String(K) } as Env);
    const repo = (await repoPerShard())[2];
    const agentId = `shard-${crypto.randomUUID().slice(0, 8)}`;
    const l = await createLease(ctx, agentId, { repo_url: repo.url, task_id: 'land' });
    expect(shardOfLeaseId(l.id)).toBe(2);
    expect((await execCommand(ctx, agentId, l.id, 'echo sharded > sharded.txt')).exit_code).toBe(0);
    const pushed = await gitPush(ctx, agentId, l.id, { message: 'from shard 2', target: 'base' });
    expect(pushed).toMatchObject({ target_branch: 'main', committed: true });
    expect((await remoteGit(repo.name, 'log', '-1', '--format=%s', 'main')).trim()).toBe('from shard 2');
    // The lander is a lease of the repo's shard (the lock recorded it), and the landed tip is known there.
    await runInDurableObject(shard(2), async (_o: PoolCoordinator, state) => {
      const lander = state.storage.sql.exec(`SELECT id FROM leases WHERE agent_id=? AND repo_key=?`, LANDER_AGENT, repo.key).toArray();
      expect(lander).toHaveLength(1);
      expect(shardOfLeaseId(String(lander[0].id))).toBe(2);
    });
    await runInDurableObject(shard(0), async (_o: PoolCoordinator, state) => {
      expect(state.storage.sql.exec(`SELECT id FROM leases WHERE repo_key=?`, repo.key).toArray()).toHaveLength(0);
    });
    const tip = (await remoteGit(repo.name, 'rev-parse', 'main')).trim();
    expect(pushed.commit).toBe(tip);
    for (let i = 0; i < 50; i++) {
      const sha = await runInDurableObject(shard(2), async (_o: PoolCoordinator, state) => state.storage.sql.exec(`SELECT sha FROM repo_tips WHERE repo_key=?`, repo.key).toArray()[0]?.sha);
      if (sha === tip) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await runInDurableObject(shard(2), async (_o: PoolCoordinator, state) => state.storage.sql.exec(`SELECT sha FROM repo_tips WHERE repo_key=?`, repo.key).toArray()[0]?.sha)).toBe(tip);
    await releaseLease(ctx, agentId, l.id);
    await shard(2).drain();
    await ctx.close();
  });

  it('drains and resumes every shard, with one report for the pool', async () => {
    const e = { ...env, POOL_SHARDS: String(K) } as Env;
    // Leases still held (the lander of the test before, on shard 2) stay: a drain without force ends none.
    const active = (await poolStats(e)).leases_active;
    const report = await drainPools(e, false);
    expect(report).toMatchObject({ draining: true, force: false, leases_ended: 0, leases_active: active });
    for (let i = 0; i < K; i++) expect((await shard(i).stats()).draining).toBe(true);
    expect((await poolStats(e)).draining).toBe(true);
    expect(await resumePools(e)).toEqual({ draining: false });
    for (let i = 0; i < K; i++) expect((await shard(i).stats()).draining).toBe(false);
    expect((await poolStats(e)).draining).toBe(false);
  });
});
