// Calls that concern every pool shard (agent-wide, pool-wide, cron): each shard is asked, and the
// answers combine into the one a single pool would give (src/pool/shards.ts merges them).
import type { PoolCoordinator } from '../durable/pool-coordinator.ts';
import { groupByShard, mergeDrainReports, mergeLeasePages, mergeLeases, mergeStats, type ShardedPoolStats } from '../pool/shards.ts';
import type { DrainReport, LeaseRecord, PoolStats } from '../pool/types.ts';
import { allPools, shardCount, shardStub } from './context.ts';

/** Runs `fn` on every shard; every shard is tried even when one fails, then the first failure is thrown. */
async function everyShard<T>(env: Env, fn: (pool: DurableObjectStub<PoolCoordinator>, shard: number) => Promise<T>): Promise<T[]> {
  const settled = await Promise.allSettled(allPools(env).map((p, i) => fn(p, i)));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** An agent's active leases on every shard, oldest first. */
export async function listAgentLeases(env: Env, agentId: string): Promise<LeaseRecord[]> {
  return mergeLeases(await everyShard(env, async (p) => (await p.list(agentId)) as LeaseRecord[]));
}

/** Ends an agent's active leases on every shard; returns how many ended. */
export async function endAgentLeases(env: Env, agentId: string): Promise<number> {
  return (await everyShard(env, (p) => p.endAgentLeases(agentId))).reduce((a, b) => a + b, 0);
}

/** The pool's stats summed over the shards (the metrics' series are those of one pool). */
export async function poolStats(env: Env): Promise<ShardedPoolStats> {
  return mergeStats(await everyShard(env, async (p) => (await p.stats()) as PoolStats));
}

/** Drains every shard; one report for the whole pool. */
export async function drainPools(env: Env, force: boolean): Promise<DrainReport> {
  return mergeDrainReports(await everyShard(env, async (p) => (await p.drainPool(force)) as DrainReport), force);
}

/** Ends the drain on every shard. */
export async function resumePools(env: Env): Promise<{ draining: false }> {
  await everyShard(env, (p) => p.resumePool());
  return { draining: false };
}

/** One page of every agent's active leases over every shard, in (created_at, id) order after the cursor. */
export async function activeLeasePage(env: Env, limit: number, after?: { createdAt: number; id: string }): Promise<LeaseRecord[]> {
  return mergeLeasePages(await everyShard(env, async (p) => (await p.activeLeases(limit, after)) as LeaseRecord[]), limit);
}

/** Which of `ids` are active, unexpired leases (each asked of the shard its id routes to). */
export async function activeLeaseIds(env: Env, ids: string[]): Promise<string[]> {
  const groups = [...groupByShard(ids, shardCount(env))];
  const found = await Promise.all(groups.map(([shard, group]) => shardStub(env, shard).activeLeaseIds(group)));
  return found.flat();
}

/** The health sweep on every shard, counts summed. */
export async function healthCheckPools(env: Env): Promise<{ checked: number; dead: number }> {
  const rs = await everyShard(env, (p) => p.healthCheck());
  return { checked: rs.reduce((n, r) => n + r.checked, 0), dead: rs.reduce((n, r) => n + r.dead, 0) };
}

/** The cleanup sweep and the projection catch-up on every shard, counts summed. */
export async function cleanupPools(env: Env): Promise<{ expired: number; orphans: number; projected: number }> {
  const rs = await everyShard(env, async (p) => {
    const c = await p.cleanup();
    return { ...c, projected: await p.project() };
  });
  return {
    expired: rs.reduce((n, r) => n + r.expired, 0),
    orphans: rs.reduce((n, r) => n + r.orphans, 0),
    projected: rs.reduce((n, r) => n + r.projected, 0),
  };
}
