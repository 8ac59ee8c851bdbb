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
/** The idle count once it reaches `want` or has not changed for a second (the alarm's refill may still be creating). */
const settledIdle = async (stub: Awaited<ReturnType<typeof fresh>>, want: number) => {
  let n = await idle(stub);
  for (let i = 0, same = 0; i < 50 && n !== want && same < 10; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = await idle(stub);
    same = m === n && (await stub.stats()).members['creating:pooled'] === undefined ? same + 1 : 0;
    n = m;
  }
  return n;
};

describe('pool sizing', () => {
  it('grows the idle pool to the last peak of concurrent leases plus a spare, then shrinks to POOL_MIN once demand is gone', async () => {
    const stub = await fresh({ poolMin: 0, poolMax: 8, maxSandboxes: 30 });
    expect(await idle(await stub.warm().then(() => stub))).toBe(0);
    const got = await Promise.all(Array.from({ length: 5 }, (_, i) => stub.acquire(req(`burst-${i}`))));
    for (const g of got) expect(g.ok).toBe(true);
    for (const [i, g] of got.entries()) if (g.ok) await stub.release(g.lease.id, `burst-${i}`);
    await stub.drain();
    await stub.warm();
    // A repeat of the burst would find warm members: the 5 released ones (scrubbed) and one spare.
    expect(await settledIdle(stub, 6)).toBe(6);
    // Quiet: the burst leaves the demand window and the members have sat idle past the grace period.
    await runInDurableObject(stub, async (_o: PoolCoordinator, state) => {
      state.storage.sql.exec(`UPDATE demand SET bucket = bucket - 60`);
      state.storage.sql.exec(`UPDATE members SET idle_since = idle_since - 120000 WHERE idle_since IS NOT NULL`);
    });
    await stub.warm();
    expect(await settledIdle(stub, 0)).toBe(0);
  });

  it('does not grow for agents that release and lease again: the pool follows concurrency, not arrivals', async () => {
    const stub = await fresh({ poolMin: 0, poolMax: 20, maxSandboxes: 30 });
    // One agent holds a lease while another leases and releases six times: 7 arrivals, 2 leases at once at most.
    const held = await stub.acquire(req('cyc-holder'));
    expect(held.ok).toBe(true);
    for (let n = 0; n < 6; n++) {
      const g = await stub.acquire(req('cyc-agent', n));
      expect(g.ok).toBe(true);
      if (g.ok) await stub.release(g.lease.id, 'cyc-agent');
    }
    if (held.ok) await stub.release(held.lease.id, 'cyc-holder');
    await stub.drain();
    // Past the idle grace period (the demand window still holds the arrivals): members beyond the target go.
    await runInDurableObject(stub, async (_o: PoolCoordinator, state) => {
      state.storage.sql.exec(`UPDATE members SET idle_since = idle_since - 120000 WHERE idle_since IS NOT NULL`);
    });
    await stub.warm();
    // peak 2 + 1 spare; a rule on arrival counts would have kept up to 7 idle.
    expect(await settledIdle(stub, 3)).toBe(3);
  });

  it('hands a lease the member being scrubbed after a release instead of creating a sandbox', async () => {
    const stub = await fresh({ poolMin: 0, poolMax: 4, maxSandboxes: 10 });
    const first = await stub.acquire(req('again'));
    expect(first.ok && first.lease.source).toBe('cold');
    if (first.ok) await stub.release(first.lease.id, 'again');
    expect((await stub.stats()).members['scrubbing:pooled']).toBe(1);
    // The agent leases again at once: it waits for its old member's scrub, no second sandbox.
    const second = await stub.acquire(req('again', 1));
    expect(second.ok && second.lease.source).not.toBe('cold');
    expect(second.ok && first.ok && second.lease.sandbox_id).toBe(first.ok ? first.lease.sandbox_id : '');
  });

  it('grants exactly MAX_LEASES_PER_AGENT of 15 concurrent cold leases by one agent', async () => {
    const stub = await fresh({ poolMin: 0, poolMax: 0, maxSandboxes: 40, maxLeasesPerAgent: 10, createPerSec: 100 });
    const got = await Promise.all(Array.from({ length: 15 }, (_, i) => stub.acquire(req('greedy', i))));
    expect(got.filter((g) => g.ok)).toHaveLength(10);
    expect(got.filter((g) => !g.ok).map((g) => !g.ok && g.reason)).toEqual(Array(5).fill('agent_limit'));
    expect((await stub.stats()).leases_active).toBe(10);
  });
});
