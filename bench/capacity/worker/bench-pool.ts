// The PoolCoordinator as the capacity bench runs it: the real class, plus a seam that seeds idle
// members straight into its SQLite (no sandbox is created) and a no-op call for the RPC floor.
import { PoolCoordinator } from '../../../src/durable/pool-coordinator.ts';
import type { PoolSettings, PoolStats } from '../../../src/pool/types.ts';

/** Settings under which the coordinator never creates a sandbox and returns members by scrubbing them. */
export function capacitySettings(members: number): Partial<PoolSettings> {
  return {
    poolMin: members,
    poolMax: members,
    maxSandboxes: members,
    reusePolicy: 'reuse',
    leaseWaitMs: 60_000,
    maxWaiters: 100_000,
    maxLeasesPerAgent: 10,
    ttlS: 3600,
    idleMaxAgeS: 86_400,
    prewarmRepos: [],
  };
}

/** PoolCoordinator with bench-only seeding; every other method is the real one. */
export class BenchPoolCoordinator extends PoolCoordinator {
  /** Stores `members` idle pooled members (ids `<prefix>-<i>`, no clone) and the capacity settings. */
  async seed(members: number, prefix: string): Promise<PoolStats> {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    // The same columns a created, scrubbed member has: idle, blank (no repo), its idle clock running.
    for (let i = 0; i < members; i++) {
      sql.exec(
        `INSERT INTO members(sandbox_id,state,repo_key,home,created_at,retire_at,lease_id,mode,idle_since) VALUES (?,'idle',NULL,'/home/user',?,?,NULL,'pooled',?)`,
        `${prefix}-${i}`, now, now + 86_400_000, now,
      );
    }
    await this.configure(capacitySettings(members));
    return this.stats();
  }

  /** Runs `n` one-row statements against this object's SQLite (the per-statement cost floor); returns n. */
  async sqlLoop(n: number): Promise<number> {
    const sql = this.ctx.storage.sql;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Number(sql.exec(`SELECT count(*) AS n FROM kv WHERE key=?`, 'settings').one().n);
    return sum >= 0 ? n : 0;
  }

  /** Answers at once: the cost of one RPC round trip to this object. */
  async noop(): Promise<number> {
    return 1;
  }
}
