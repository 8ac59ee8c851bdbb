// Demand-based pool sizing and the exact per-agent cap, driven through a coordinator of their own.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import { env, stack } from './helpers.ts';

const fresh = async (settings: Record<string, unknown>) => {
  const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`sizing-${crypto.randomUUID()}`));
  await stub.configure(settings);
  return stub;
};
const req = (agentId: string, n = 0) => ({ agentId, taskId: `t${n}`, repoUrl: stack.demo_repo_url, repoKey: 'k', branch: 'main', agentBranch: `agent/${agentId}/t${n}`, mode: 'pooled' as const });
const idle = async (stub: Awaited<ReturnType<typeof fresh>>) => (await stub.stats()).members['idle:pooled'] ?? 0;

describe('pool sizing', () => {
  it('grows the idle pool to the last burst of leases, then shrinks to POOL_MIN once demand is gone', async () => {
    const stub = await fresh({ poolMin: 0, poolMax: 8, maxSandboxes: 30 });
    expect(await idle(await stub.warm().then(() => stub))).toBe(0);
    const got = await Promise.all(Array.from({ length: 5 }, (_, i) => stub.acquire(req(`burst-${i}`))));
    for (const g of got) expect(g.ok).toBe(true);
    for (const [i, g] of got.entries()) if (g.ok) await stub.release(g.lease.id, `burst-${i}`);
    await stub.drain();
    await stub.warm();
    // A repeat of the burst would find warm members: 5 idle (the released ones, scrubbed).
    expect(await idle(stub)).toBe(5);
    // Quiet: the burst leaves the demand window and the members have sat idle past the grace period.
    await runInDurableObject(stub, async (_o: PoolCoordinator, state) => {
      state.storage.sql.exec(`UPDATE arrivals SET at = at - 600000`);
      state.storage.sql.exec(`UPDATE members SET idle_since = idle_since - 120000 WHERE idle_since IS NOT NULL`);
    });
    await stub.warm();
    expect(await idle(stub)).toBe(0);
  });

  it('grants exactly MAX_LEASES_PER_AGENT of 15 concurrent cold leases by one agent', async () => {
    const stub = await fresh({ poolMin: 0, poolMax: 0, maxSandboxes: 40, maxLeasesPerAgent: 10, createPerSec: 100 });
    const got = await Promise.all(Array.from({ length: 15 }, (_, i) => stub.acquire(req('greedy', i))));
    expect(got.filter((g) => g.ok)).toHaveLength(10);
    expect(got.filter((g) => !g.ok).map((g) => !g.ok && g.reason)).toEqual(Array(5).fill('agent_limit'));
    expect((await stub.stats()).leases_active).toBe(10);
  });
});
