// Returning a pool member: the scrub runs in a MemberScrubber while the coordinator keeps the
// member out of the idle set, and a failed or orphaned scrub ends with the member terminated.
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import type { AcquireRequest } from '../../src/pool/types.ts';
import { env, stack } from './helpers.ts';

const newPool = (label: string) => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`${label}-${crypto.randomUUID()}`));

const req = (agentId: string): AcquireRequest => ({ agentId, taskId: 't', repoUrl: stack.demo_repo_url, repoKey: 'scrub/k', branch: 'main', agentBranch: `agent/${agentId}/t`, mode: 'pooled' });

describe('returning members', () => {
  it('never grants a member while its scrub runs; the waiter gets it once the scrub is done', async () => {
    const stub = newPool('scrub-wait');
    await stub.configure({ poolMin: 0, maxSandboxes: 1, leaseWaitMs: 60_000, reusePolicy: 'reuse' });
    const a = await stub.acquire(req('a'));
    if (!a.ok) throw new Error(a.message);
    expect((await stub.release(a.lease.id, 'a')).ok).toBe(true);
    const b = await stub.acquire(req('b'));
    if (!b.ok) throw new Error(b.message);
    expect(b.lease.sandbox_id).toBe(a.lease.sandbox_id);
    const stats = await stub.stats();
    // The grant came after the scrub's outcome was applied, not while the member was scrubbing.
    expect(stats.counters['returns_total{result="reused"}']).toBe(1);
    expect(stats.members['scrubbing:pooled'] ?? 0).toBe(0);
    await stub.release(b.lease.id, 'b');
    await stub.drain();
  });

  it('terminates a returned member whose scrub fails (its sandbox died during the lease)', async () => {
    const stub = newPool('scrub-fail');
    await stub.configure({ poolMin: 0, maxSandboxes: 2, reusePolicy: 'reuse' });
    const a = await stub.acquire(req('a'));
    if (!a.ok) throw new Error(a.message);
    const killed = await fetch(`${stack.e2b_api_url}/sandboxes/${a.lease.sandbox_id}`, { method: 'DELETE', headers: { 'X-API-KEY': stack.e2b_api_key } });
    expect(killed.status).toBe(204);
    await stub.release(a.lease.id, 'a');
    await stub.drain();
    const stats = await stub.stats();
    expect(stats.members).toEqual({});
    expect(stats.counters['health_failures_total{where="return"}']).toBe(1);
    expect(stats.counters['terminations_total{reason="unhealthy"}']).toBe(1);
  });

  it('terminates a member left scrubbing with no scrub in flight (the coordinator was evicted meanwhile)', async () => {
    const stub = newPool('scrub-lost');
    await stub.configure({ poolMin: 1, poolMax: 1, maxSandboxes: 1 });
    const warm = await stub.warm();
    const id = warm.idle[0].sandbox_id;
    await runInDurableObject(stub, async (_o: PoolCoordinator, state) => {
      state.storage.sql.exec(`UPDATE members SET state='scrubbing' WHERE sandbox_id=?`, id);
    });
    await runDurableObjectAlarm(stub);
    const stats = await stub.stats();
    expect(stats.counters['terminations_total{reason="scrub_lost"}']).toBe(1);
    expect(stats.idle.map((m) => m.sandbox_id)).not.toContain(id);
  });

  it('answers a scrub of an unknown sandbox with a failed outcome instead of throwing', async () => {
    const scrubber = env.MEMBER_SCRUBBER.get(env.MEMBER_SCRUBBER.idFromName(`scrubber-${crypto.randomUUID()}`));
    const out = await scrubber.scrub({ sandboxId: 'no-such-sandbox', timeoutMs: 60_000, pool: 'p', repo: null });
    expect(out).toMatchObject({ clean: false, base: null, tip: null });
    expect(out.error).toBeTruthy();
  });
});
