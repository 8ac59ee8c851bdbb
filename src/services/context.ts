// The per-request service context shared by REST routes, MCP tools and cron jobs.
import { parseConfig, SECRET_KEYS, type Config } from '../config.ts';
import { createDb, type DbHandle, type Db } from '../db/client.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { randomId } from '../lib/crypto.ts';
import { DeltaBuffer } from '../metrics/series.ts';
import type { PoolCoordinator } from '../durable/pool-coordinator.ts';
import { BASE_POOL, routeLeaseId, shardLocationHint, shardName, shardOfRepo } from '../pool/shards.ts';

/** What a service call needs: env, parsed config, a lazily opened database, a logger, metrics. */
export interface ServiceContext {
  env: Env;
  cfg: Config;
  /** Tags every line with this request's id. */
  log: Logger;
  requestId: string;
  /** Counter deltas of this request, sent to the MetricsHub when it ends. */
  metrics: DeltaBuffer;
  db(): Db;
  /** Closes the database handle if one was opened, once every held piece of work has settled. */
  close(): Promise<void>;
  waitUntil(p: Promise<unknown>): void;
  /** Keeps the context open until `p` settles (work that outlives the handler, e.g. a streamed answer). */
  hold(p: Promise<unknown>): void;
}

/** Builds a service context; call close() when the request is done. */
export function createServiceContext(env: Env, waitUntil: (p: Promise<unknown>) => void = () => {}, requestId: string = randomId('req')): ServiceContext {
  const cfg = parseConfig(env);
  const log = createLogger(cfg.LOG_LEVEL, SECRET_KEYS.map((k) => cfg[k]).filter(Boolean), { request_id: requestId });
  let handle: DbHandle | null = null;
  const held = new Set<Promise<unknown>>();
  return {
    env,
    cfg,
    log,
    requestId,
    metrics: new DeltaBuffer(),
    db: () => {
      handle ??= createDb(env);
      return handle.db;
    },
    close: async () => {
      while (held.size) await Promise.allSettled([...held]);
      const h = handle;
      handle = null;
      await h?.close();
    },
    waitUntil,
    hold: (p) => {
      const settled: Promise<unknown> = p.then(
        () => held.delete(settled),
        () => held.delete(settled),
      );
      held.add(settled);
    },
  };
}

/** The pool coordinator stub of a pool by name (shard 0 of a deployment is "global"). */
export function poolStub(env: Env, name = BASE_POOL): DurableObjectStub<PoolCoordinator> {
  return env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(name));
}

/** How many coordinators (shards) this deployment runs (POOL_SHARDS). */
export function shardCount(env: Env): number {
  return parseConfig(env).POOL_SHARDS;
}

/**
 * The coordinator of shard `i`, created (the first time it is reached) near its POOL_LOCATION_HINTS
 * region; afterwards it stays where it was created, whoever calls it.
 */
export function shardStub(env: Env, i: number): DurableObjectStub<PoolCoordinator> {
  const hint = shardLocationHint(parseConfig(env).POOL_LOCATION_HINTS, i) as DurableObjectLocationHint | undefined;
  return env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(shardName(i)), hint ? { locationHint: hint } : undefined);
}

/** The coordinator a repo's new leases (and its lander, its tips) belong to. */
export function repoPool(env: Env, repoKey: string): DurableObjectStub<PoolCoordinator> {
  return shardStub(env, shardOfRepo(repoKey, shardCount(env)));
}

/** The coordinator that holds a lease, found from its id. */
export function leasePool(env: Env, leaseId: string): DurableObjectStub<PoolCoordinator> {
  return shardStub(env, routeLeaseId(leaseId, shardCount(env)));
}

/** Every shard's coordinator, shard 0 first. */
export function allPools(env: Env): DurableObjectStub<PoolCoordinator>[] {
  return Array.from({ length: shardCount(env) }, (_, i) => shardStub(env, i));
}
