// MetricsHub: the one place request-rate counters live (HTTP requests, git operations, repo-lock
// events), as monotonic counters in this DO's SQLite, so /metrics reads them with one RPC.
//
// Why a DO of its own rather than an RPC on the PoolCoordinator: every Worker request and every
// lock event reports here, and the coordinator is the single serialization point of lease grants;
// keeping these writes off it keeps lease latency independent of request volume, and a failure
// here can never refuse a lease. Writers send fire-and-forget (after their response), one call per
// request or lock event. If one hub ever becomes hot, shard it by name and sum the shards at scrape.
import { DurableObject } from 'cloudflare:workers';
import { componentLogger } from '../lib/do-logger.ts';
import type { Logger } from '../lib/log.ts';
import { cumulate, type Deltas } from '../metrics/series.ts';

/** Most distinct series the hub keeps; beyond it new series are dropped (a label-cardinality bug). */
export const MAX_SERIES = 20_000;

/** The metrics hub DO (one per deployment, named "global"). */
export class MetricsHub extends DurableObject<Env> {
  #sql: SqlStorage;
  #log: Logger;
  #series: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#log = componentLogger(env, 'metrics_hub');
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL)`);
    this.#series = Number(this.#sql.exec(`SELECT count(*) AS n FROM counters`).one().n);
  }

  /** Adds deltas to counters (negative or non-finite deltas are ignored: counters only go up). */
  async add(deltas: Deltas): Promise<void> {
    let dropped = 0;
    // One synchronous block: the whole batch lands in one implicit transaction.
    for (const [name, by] of Object.entries(deltas)) {
      if (!(by > 0) || !Number.isFinite(by)) continue;
      const updated = this.#sql.exec(`UPDATE counters SET value = value + ? WHERE name = ?`, by, name).rowsWritten;
      if (updated) continue;
      if (this.#series >= MAX_SERIES) {
        dropped++;
        continue;
      }
      this.#sql.exec(`INSERT INTO counters(name, value) VALUES (?, ?)`, name, by);
      this.#series++;
    }
    if (dropped) this.#log.warn('metrics_series_dropped', { dropped, max_series: MAX_SERIES });
  }

  /** Every counter by series key, histogram buckets made cumulative (they are stored per bucket). */
  async snapshot(): Promise<Record<string, number>> {
    const raw: Record<string, number> = {};
    for (const r of this.#sql.exec<{ name: string; value: number }>(`SELECT name, value FROM counters`)) raw[r.name] = r.value;
    return cumulate(raw);
  }
}

/** The metrics hub stub. */
export function metricsHub(env: Env): DurableObjectStub<MetricsHub> {
  return env.METRICS_HUB.get(env.METRICS_HUB.idFromName('global'));
}
