// The lease history (git_sandboxes, projected from the coordinator's outbox) may lag a busy
// coordinator by one batch, not without bound: a grant that finds a full batch or more waiting
// copies it first. Measured before: at ~600 grants/s no batch was written for the whole 10 s run.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import type { AcquireRequest } from '../../src/pool/types.ts';
import { env, stack } from './helpers.ts';

const req = (agentId: string): AcquireRequest => ({ agentId, taskId: 't', repoUrl: stack.demo_repo_url, repoKey: 'backlog/k', branch: 'main', agentBranch: `agent/${agentId}/t`, mode: 'pooled' });

const outbox = (stub: DurableObjectStub<PoolCoordinator>) => runInDurableObject(stub, async (_o: PoolCoordinator, state) => Number(state.storage.sql.exec(`SELECT count(*) AS n FROM outbox`).one().n));

describe('lease history projection', () => {
  it('a grant arriving behind a flood of 600 unprojected transitions copies them before it is answered', async () => {
    const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`backlog-${crypto.randomUUID()}`));
    await stub.configure({ poolMin: 0, poolMax: 0, maxSandboxes: 3 });
    const first = await stub.acquire(req('a'));
    if (!first.ok) throw new Error(first.message);
    await stub.project();
    expect(await outbox(stub)).toBe(0);
    // The flood: 600 transitions of the first lease stored and not yet copied (what a coordinator
    // saturated with grants leaves behind while its projection gets no turn).
    await runInDurableObject(stub, async (_o: PoolCoordinator, state) => {
      for (let i = 0; i < 600; i++) state.storage.sql.exec(`INSERT INTO outbox(lease_id, op, error, at) VALUES (?, 'renew', NULL, ?)`, first.lease.id, Date.now());
    });
    expect((await stub.stats()).projection_backlog).toBe(600);
    const second = await stub.acquire(req('b'));
    if (!second.ok) throw new Error(second.message);
    // Answered after the copy: at most the second grant's own transition is still waiting.
    expect(await outbox(stub)).toBeLessThanOrEqual(1);
  });
});
