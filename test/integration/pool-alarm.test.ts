// The coordinator's one alarm: a grant moves it earlier when the new lease expires first, also
// after the alarm has run (the coordinator keeps the armed time in memory between grants).
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import type { AcquireRequest } from '../../src/pool/types.ts';
import { env, stack } from './helpers.ts';

const req = (agentId: string, ttlS: number): AcquireRequest => ({ agentId, taskId: 't', repoUrl: stack.demo_repo_url, repoKey: 'alarm/k', branch: 'main', agentBranch: `agent/${agentId}/t`, mode: 'pooled', ttlS });

const storedAlarm = (stub: DurableObjectStub<PoolCoordinator>) => runInDurableObject(stub, async (_o: PoolCoordinator, state) => state.storage.getAlarm());

describe('pool alarm', () => {
  it('moves the alarm to a new lease\'s expiry when it comes before the armed time, after the alarm has run', async () => {
    const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`alarm-${crypto.randomUUID()}`));
    // No idle target, so after its run the alarm is re-armed for the periodic tick (5 min).
    await stub.configure({ poolMin: 0, poolMax: 0, maxSandboxes: 3 });
    const long = await stub.acquire(req('a', 3600));
    if (!long.ok) throw new Error(long.message);
    await runDurableObjectAlarm(stub);
    // Re-armed from storage: the periodic tick comes before the hour-long lease's expiry.
    const armed = await storedAlarm(stub);
    expect(armed).not.toBeNull();
    expect(armed!).toBeLessThan(long.lease.expires_at);
    expect(armed!).toBeGreaterThan(Date.now() + 120_000);
    const short = await stub.acquire(req('b', 60));
    if (!short.ok) throw new Error(short.message);
    expect(await storedAlarm(stub)).toBe(short.lease.expires_at);
    const later = await stub.acquire(req('c', 120));
    if (!later.ok) throw new Error(later.message);
    expect(await storedAlarm(stub)).toBe(short.lease.expires_at);
  });
});
