// The coordinator's lease history: transitions appended to the SQLite outbox in the transition's
// own synchronous block, copied to Postgres (git_sandboxes) in batches after the request, with a
// bounded lag. The copy itself (collapse + upsert) is src/pool/projector.ts.
import { parseConfig } from '../config.ts';
import { createDb } from '../db/client.ts';
import { redactFor } from '../db/lease-rows.ts';
import { LingeringDb } from '../db/lingering.ts';
import { encryptText } from '../lib/crypto.ts';
import type { Logger } from '../lib/log.ts';
import { projectBatch, type OutboxRow } from './projector.ts';

/** Lease transitions copied to Postgres per statement, and the backlog at which grants wait for the copy. */
export const PROJECTION_BATCH = 500;
/** After a failed projection, grants stop waiting for it this long (the database is down; the outbox keeps the rows). */
export const PROJECTION_RETRY_MS = 30_000;

/** The outbox of one coordinator and its projection to Postgres. */
export class LeaseHistory {
  #sql: SqlStorage;
  #env: Env;
  #log: Logger;
  #projecting: Promise<number> | null = null;
  // Outbox rows not yet projected (counted from storage once, then kept in memory), and when the
  // last projection failed (the database down or unreachable).
  #backlog: number | undefined;
  #failedAt = 0;
  // The projection's connection stays open between batches while lease transitions keep coming.
  #conn: LingeringDb;

  constructor(sql: SqlStorage, env: Env, log: Logger) {
    this.#sql = sql;
    this.#env = env;
    this.#log = log;
    this.#conn = new LingeringDb({ open: () => createDb(env), lingerMs: 10_000 });
  }

  /** Appends a lease transition (call it in the transition's synchronous block; then project()). */
  append(leaseId: string, op: string, error?: string): void {
    this.#sql.exec(`INSERT INTO outbox(lease_id, op, error, at) VALUES (?,?,?,?)`, leaseId, op, error ?? null, Date.now());
    this.#backlog = this.#backlog === undefined ? this.pending() : this.#backlog + 1;
  }

  /** Transitions not yet copied to Postgres. */
  pending(): number {
    return Number(this.#sql.exec(`SELECT count(*) AS n FROM outbox`).one().n);
  }

  /**
   * Whether a grant should wait for the projection first: the outbox holds a full batch or more and
   * the database is answering. A coordinator saturated with grants otherwise starves the projection's
   * own I/O (measured: at ~600 grants/s not one batch was written in 10 s, 12,000 transitions behind);
   * while the database is failing, leases go on and the outbox keeps the transitions until it is back.
   */
  behind(): boolean {
    this.#backlog ??= this.pending();
    return this.#backlog >= PROJECTION_BATCH && Date.now() - this.#failedAt > PROJECTION_RETRY_MS;
  }

  /** Drops outbox rows whose lease was purged (nothing left to project); run after the purge. */
  dropOrphans(): void {
    this.#sql.exec(`DELETE FROM outbox WHERE lease_id NOT IN (SELECT id FROM leases)`);
    this.#backlog = undefined;
  }

  /**
   * Copies pending outbox rows to git_sandboxes (the only writer of that table), in batches; rows
   * stay until a batch is stored, so a database outage only delays the projection. Concurrent calls
   * share one run. Returns rows copied.
   */
  project(): Promise<number> {
    if (this.#projecting) return this.#projecting;
    const p: Promise<number> = this.#projectNow().finally(() => {
      if (this.#projecting === p) this.#projecting = null;
    });
    this.#projecting = p;
    return p;
  }

  async #projectNow(): Promise<number> {
    let copied = 0;
    try {
      for (;;) {
        const rows = this.#sql.exec(`SELECT o.seq, o.op, o.error, o.at, l.* FROM outbox o JOIN leases l ON l.id = o.lease_id ORDER BY o.seq LIMIT ?`, PROJECTION_BATCH).toArray() as unknown as OutboxRow[];
        if (!rows.length) return copied;
        const key = parseConfig(this.#env).ERROR_ENCRYPTION_KEY;
        await this.#conn.use((h) => projectBatch(h.db, rows, (t) => encryptText(key, redactFor(this.#env, t).slice(0, 4000))));
        this.#sql.exec(`DELETE FROM outbox WHERE seq <= ?`, Math.max(...rows.map((r) => r.seq)));
        this.#backlog = undefined;
        this.#failedAt = 0;
        copied += rows.length;
      }
    } catch (e) {
      this.#failedAt = Date.now();
      // drizzle's message is the query text; the database's own reason is its cause.
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : undefined;
      this.#log.warn('projection_failed', { error: cause ?? String(e instanceof Error ? e.message : e) });
      return copied;
    }
  }
}
