// RepoLock: one per repository + target branch. A FIFO lock with fencing tokens and a TTL, its
// whole state in SQLite. The lock saves wasted rebase cycles; git's ref CAS is what prevents loss.
import { DurableObject } from 'cloudflare:workers';
import { withDb } from '../db/client.ts';
import { recordOperation } from '../db/lease-rows.ts';
import { componentLogger } from '../lib/do-logger.ts';
import type { Logger } from '../lib/log.ts';
import { decideGrant, type LockState } from '../lock/decide.ts';
import { landingBatch, landingOutcomes, lockGranted } from '../metrics/events.ts';
import { reportDeltas } from '../metrics/report.ts';
import type { Deltas } from '../metrics/series.ts';

/** Result of acquire: a token; a timeout with the caller's queue position; or `done` when the
 * caller's queued entry was landed (or rejected) by another holder, so it no longer needs the lock. */
export type LockAcquireResult =
  | { ok: true; token: number; waitedMs: number; expiresAt: number }
  | { ok: false; reason: 'timeout'; waitedMs: number; position: number; retryAfterS: number; holder: string | null }
  | { ok: false; reason: 'done'; waitedMs: number };

/** Options of one acquisition. */
export interface LockAcquireOptions {
  ttlMs: number;
  waitMs: number;
  repoUrl?: string;
  /** The caller's queued entry: the wait ends as soon as another holder completes it. */
  entryId?: string;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS lock_state (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT, token INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL DEFAULT 0, granted_at INTEGER NOT NULL DEFAULT 0, ttl_ms INTEGER NOT NULL DEFAULT 0)`,
  `INSERT OR IGNORE INTO lock_state(id) VALUES (1)`,
  `CREATE TABLE IF NOT EXISTS waiters (seq INTEGER PRIMARY KEY AUTOINCREMENT, holder TEXT NOT NULL, enqueued_at INTEGER NOT NULL, deadline INTEGER NOT NULL, ttl_ms INTEGER NOT NULL, entry_id TEXT)`,
  `CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, lease_id TEXT, status TEXT NOT NULL, claim_token INTEGER, commit_sha TEXT, conflicts TEXT, batch_size INTEGER, created_at INTEGER NOT NULL, done_at INTEGER)`,
  `CREATE INDEX IF NOT EXISTS entries_status ON entries(status, seq)`,
  `CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, holder TEXT, token INTEGER, wait_ms INTEGER, at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, body TEXT NOT NULL, at INTEGER NOT NULL)`,
];

/** Column additions, applied once each in order; the applied count is kept in kv('schema_version'). */
const MIGRATIONS = [`ALTER TABLE entries ADD COLUMN agent_id TEXT`];

/** A queued landing (batched pushes to a base branch). */
export interface LockEntry {
  id: string;
  status: 'pending' | 'claimed' | 'landed' | 'conflict' | 'missing' | 'failed' | 'cancelled';
  commit_sha: string | null;
  conflicts: string[];
  batch_size: number | null;
}

/** The per-repo push lock, and the queue of entries its holders land in batches. */
export class RepoLock extends DurableObject<Env> {
  #sql: SqlStorage;
  #log: Logger;
  #resolvers = new Map<number, (r: LockAcquireResult) => void>();
  #repoUrl: string | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#log = componentLogger(env, 'repo_lock');
    ctx.blockConcurrencyWhile(async () => {
      for (const s of SCHEMA) this.#sql.exec(s);
      const row = this.#sql.exec(`SELECT value FROM kv WHERE key='schema_version'`).toArray()[0];
      for (let v = row ? Number(row.value) : 0; v < MIGRATIONS.length; v++) this.#sql.exec(MIGRATIONS[v]);
      this.#sql.exec(`INSERT INTO kv(key,value) VALUES('schema_version',?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, String(MIGRATIONS.length));
    });
  }

  /** Waits in FIFO order up to `waitMs` for the lock; the token fences every later call. */
  async acquire(holder: string, opts: LockAcquireOptions): Promise<LockAcquireResult> {
    this.#repoUrl ??= opts.repoUrl;
    const now = Date.now();
    if (opts.entryId && this.#entryDone(opts.entryId)) return { ok: false, reason: 'done', waitedMs: 0 };
    this.#expireIfDue(now);
    const st = this.#state();
    // Invariant: the lock is granted only when free and nobody queued ahead (checked and taken here).
    if (!st.holder && this.#waiterCount() === 0) {
      const granted = this.#grant(holder, opts.ttlMs, now, 0);
      await this.#arm(); // the alarm expires this holder if it never comes back
      return granted;
    }
    if (opts.waitMs <= 0) return this.#timeout(holder, now, this.#waiterCount() + 1);
    this.#sql.exec(`INSERT INTO waiters(holder, enqueued_at, deadline, ttl_ms, entry_id) VALUES (?,?,?,?,?)`, holder, now, now + opts.waitMs, opts.ttlMs, opts.entryId ?? null);
    const seq = Number(this.#sql.exec(`SELECT last_insert_rowid() AS s`).one().s);
    await this.#arm();
    return new Promise<LockAcquireResult>((resolve) => {
      this.#resolvers.set(seq, resolve);
      setTimeout(() => {
        // Invariant: a waiter times out only if it is still queued (not granted meanwhile).
        const row = this.#sql.exec(`SELECT seq FROM waiters WHERE seq=?`, seq).toArray()[0];
        if (!row) return;
        const position = Number(this.#sql.exec(`SELECT count(*) AS n FROM waiters WHERE seq<=?`, seq).one().n);
        this.#sql.exec(`DELETE FROM waiters WHERE seq=?`, seq);
        this.#resolvers.delete(seq);
        resolve(this.#timeout(holder, now, position));
      }, opts.waitMs);
    });
  }

  /** Releases the lock if `token` is the current one; a stale token is refused. */
  async release(token: number): Promise<{ ok: boolean; reason?: 'stale' }> {
    const st = this.#state();
    // Invariant: only the current token's holder can release.
    if (!st.holder || st.token !== token) return { ok: false, reason: 'stale' };
    this.#sql.exec(`UPDATE lock_state SET holder=NULL, expires_at=0 WHERE id=1`);
    this.#audit('release', st.holder, token, Date.now() - st.granted_at);
    this.#grantNext(Date.now());
    await this.#arm();
    return { ok: true };
  }

  /** Extends the current holder's TTL; refused for a stale token. */
  async extend(token: number, ttlMs: number): Promise<{ ok: boolean; expiresAt?: number }> {
    const now = Date.now();
    this.#expireIfDue(now);
    const st = this.#state();
    if (!st.holder || st.token !== token) return { ok: false };
    const expiresAt = now + ttlMs;
    this.#sql.exec(`UPDATE lock_state SET expires_at=? WHERE id=1`, expiresAt);
    await this.#arm();
    return { ok: true, expiresAt };
  }

  /** Queues an entry (its commits already parked on the remote) for the next batch. */
  async enqueue(id: string, leaseId: string, agentId: string): Promise<void> {
    const seq = Number(this.#sql.exec(`SELECT coalesce(max(seq), 0) + 1 AS s FROM entries`).one().s);
    this.#sql.exec(`INSERT OR IGNORE INTO entries(id, seq, lease_id, agent_id, status, created_at) VALUES (?,?,?,?,'pending',?)`, id, seq, leaseId, agentId, Date.now());
  }

  /** Claims up to `max` pending entries in queue order for the holder of `token`; none for a stale token. */
  async claim(token: number, max: number): Promise<{ id: string; agentId: string }[]> {
    const st = this.#state();
    // Invariant: only the current holder claims, and an entry is claimed by one holder at a time.
    if (!st.holder || st.token !== token || st.expires_at <= Date.now()) return [];
    const rows = this.#sql.exec(`SELECT id, agent_id FROM entries WHERE status='pending' ORDER BY seq LIMIT ?`, max).toArray();
    for (const r of rows) this.#sql.exec(`UPDATE entries SET status='claimed', claim_token=? WHERE id=?`, token, r.id);
    return rows.map((r) => ({ id: String(r.id), agentId: String(r.agent_id ?? '') }));
  }

  /** Remembers the answer of an idempotent push (kept a day), so a replay gets the same answer. */
  async remember(key: string, body: string): Promise<void> {
    const now = Date.now();
    this.#sql.exec(`INSERT INTO results(key, body, at) VALUES (?,?,?) ON CONFLICT(key) DO NOTHING`, key, body, now);
    this.#sql.exec(`DELETE FROM results WHERE at < ?`, now - 86_400_000);
  }

  /** The remembered answer of an idempotent push, if any. */
  async recall(key: string): Promise<string | null> {
    const row = this.#sql.exec(`SELECT body FROM results WHERE key=?`, key).toArray()[0];
    return row ? String(row.body) : null;
  }

  /** Which of `ids` are queued entries still waiting for or inside a landing. */
  async liveEntries(ids: string[]): Promise<string[]> {
    return ids.filter((id) => {
      const row = this.#sql.exec(`SELECT status FROM entries WHERE id=?`, id).toArray()[0];
      return !!row && (row.status === 'pending' || row.status === 'claimed');
    });
  }

  /** True (and recorded) when the current holder should sweep orphan queue refs: at most once per `everyMs`. */
  async sweepDue(token: number, everyMs: number): Promise<boolean> {
    const st = this.#state();
    if (!st.holder || st.token !== token) return false;
    const now = Date.now();
    const row = this.#sql.exec(`SELECT value FROM kv WHERE key='last_sweep'`).toArray()[0];
    if (row && now - Number(row.value) < everyMs) return false;
    this.#sql.exec(`INSERT INTO kv(key,value) VALUES('last_sweep',?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, String(now));
    return true;
  }

  /** The service-owned lander lease of this repo + base, if one was recorded. */
  async lander(): Promise<string | null> {
    const row = this.#sql.exec(`SELECT value FROM kv WHERE key='lander'`).toArray()[0];
    return row ? String(row.value) : null;
  }

  /** Records the lander lease; only the current holder may, so two landers never race to set it. */
  async setLander(token: number, leaseId: string | null): Promise<boolean> {
    const st = this.#state();
    if (!st.holder || st.token !== token) return false;
    if (leaseId) this.#sql.exec(`INSERT INTO kv(key,value) VALUES('lander',?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, leaseId);
    else this.#sql.exec(`DELETE FROM kv WHERE key='lander'`);
    return true;
  }

  /** Records a batch's outcomes; refused (false) when `token` is no longer the holder's. */
  async complete(token: number, results: { id: string; status: 'landed' | 'conflict' | 'missing' | 'failed'; commit?: string; conflicts: string[] }[]): Promise<boolean> {
    const st = this.#state();
    if (!st.holder || st.token !== token) return false;
    const now = Date.now();
    for (const r of results) {
      this.#sql.exec(
        `UPDATE entries SET status=?, commit_sha=?, conflicts=?, batch_size=?, done_at=? WHERE id=? AND claim_token=?`,
        r.status, r.commit ?? null, JSON.stringify(r.conflicts), results.length, now, r.id, token,
      );
    }
    this.#count(landingBatch(results));
    this.#log.info('landing_batch', { lock: this.ctx.id.name, token, size: results.length, ...landingOutcomes(results) });
    this.#sql.exec(`DELETE FROM entries WHERE done_at IS NOT NULL AND done_at < ?`, now - 3_600_000);
    // Waiters whose entries this batch settled leave the queue now instead of taking the lock in turn.
    const settled = new Set(results.map((r) => r.id));
    for (const w of this.#sql.exec(`SELECT seq, enqueued_at, entry_id FROM waiters WHERE entry_id IS NOT NULL`).toArray()) {
      if (!settled.has(String(w.entry_id))) continue;
      const seq = Number(w.seq);
      this.#sql.exec(`DELETE FROM waiters WHERE seq=?`, seq);
      this.#resolvers.get(seq)?.({ ok: false, reason: 'done', waitedMs: now - Number(w.enqueued_at) });
      this.#resolvers.delete(seq);
    }
    await this.#arm();
    return true;
  }

  /** Returns claimed entries of `token` to the queue (a failed batch, retried by the next holder). */
  async unclaim(token: number): Promise<void> {
    this.#sql.exec(`UPDATE entries SET status='pending', claim_token=NULL WHERE status='claimed' AND claim_token=?`, token);
  }

  /** Withdraws a still-pending entry; false when a lander already has it or it is done. */
  async cancel(id: string): Promise<boolean> {
    const row = this.#sql.exec(`SELECT status FROM entries WHERE id=?`, id).toArray()[0];
    if (!row || row.status !== 'pending') return false;
    this.#sql.exec(`UPDATE entries SET status='cancelled', done_at=? WHERE id=?`, Date.now(), id);
    return true;
  }

  /** An entry's state. */
  async entry(id: string): Promise<LockEntry | null> {
    const r = this.#sql.exec(`SELECT id, status, commit_sha, conflicts, batch_size FROM entries WHERE id=?`, id).toArray()[0];
    if (!r) return null;
    return { id: String(r.id), status: r.status as LockEntry['status'], commit_sha: (r.commit_sha as string | null) ?? null, conflicts: r.conflicts ? (JSON.parse(String(r.conflicts)) as string[]) : [], batch_size: (r.batch_size as number | null) ?? null };
  }

  /** Current holder, token, expiry and queue length. */
  async inspect(): Promise<LockState & { waiters: number }> {
    return { ...this.#state(), waiters: this.#waiterCount() };
  }

  /** The most recent audit rows (acquire, release, expire, timeout). */
  async audit(limit = 100): Promise<{ event: string; holder: string | null; token: number | null; wait_ms: number | null; at: number }[]> {
    return this.#sql.exec(`SELECT event, holder, token, wait_ms, at FROM audit ORDER BY seq DESC LIMIT ?`, limit).toArray() as never;
  }

  /** Expires a dead holder, drops abandoned waiters, grants the next one; safe to run twice or late. */
  async alarm(): Promise<void> {
    const now = Date.now();
    const expired = this.#expireIfDue(now);
    for (const w of this.#sql.exec(`SELECT seq, holder, enqueued_at FROM waiters WHERE deadline <= ?`, now).toArray()) {
      if (this.#resolvers.has(Number(w.seq))) continue; // its own timer answers it
      this.#sql.exec(`DELETE FROM waiters WHERE seq=?`, w.seq);
      this.#audit('timeout', String(w.holder), null, now - Number(w.enqueued_at));
    }
    this.#grantNext(now);
    await this.#arm();
    if (expired) await this.#recordExpiry(expired);
  }

  #grant(holder: string, ttlMs: number, enqueuedAt: number, seq: number): LockAcquireResult {
    const now = Date.now();
    const token = this.#state().token + 1;
    const expiresAt = now + ttlMs;
    this.#sql.exec(`UPDATE lock_state SET holder=?, token=?, expires_at=?, granted_at=?, ttl_ms=? WHERE id=1`, holder, token, expiresAt, now, ttlMs);
    if (seq) this.#sql.exec(`DELETE FROM waiters WHERE seq=?`, seq);
    this.#audit('acquire', holder, token, now - enqueuedAt);
    this.#count(lockGranted(now - enqueuedAt));
    // The audit keeps about the newest 1000 rows, trimmed every 100th grant rather than on every write.
    if (token % 100 === 0) this.#sql.exec(`DELETE FROM audit WHERE seq <= (SELECT max(seq) FROM audit) - 1000`);
    return { ok: true, token, waitedMs: now - enqueuedAt, expiresAt };
  }

  /** Hands a free lock to the first live waiter. */
  #grantNext(now: number): void {
    if (this.#state().holder) return;
    for (;;) {
      const w = this.#sql.exec(`SELECT seq, holder, enqueued_at, deadline, ttl_ms FROM waiters ORDER BY seq LIMIT 1`).toArray()[0];
      if (!w) return;
      const seq = Number(w.seq);
      const resolve = this.#resolvers.get(seq);
      const decision = decideGrant({ hasResolver: !!resolve, deadline: Number(w.deadline), now });
      if (decision !== 'grant') {
        this.#sql.exec(`DELETE FROM waiters WHERE seq=?`, seq);
        this.#audit('timeout', String(w.holder), null, now - Number(w.enqueued_at));
        continue;
      }
      this.#resolvers.delete(seq);
      resolve!(this.#grant(String(w.holder), Number(w.ttl_ms), Number(w.enqueued_at), seq));
      return;
    }
  }

  /** Clears an expired holder; returns what expired. */
  #expireIfDue(now: number): { holder: string; token: number } | null {
    const st = this.#state();
    if (!st.holder || st.expires_at > now) return null;
    this.#sql.exec(`UPDATE lock_state SET holder=NULL, expires_at=0 WHERE id=1`);
    // A dead lander's claimed entries go back to the queue for the next holder.
    this.#sql.exec(`UPDATE entries SET status='pending', claim_token=NULL WHERE status='claimed' AND claim_token=?`, st.token);
    this.#audit('expire', st.holder, st.token, now - st.granted_at);
    this.#log.warn('lock_expired', { lock: this.ctx.id.name, holder: st.holder, token: st.token, held_ms: now - st.granted_at });
    this.#count({ lock_expiries_total: 1 });
    this.#grantNext(now);
    return { holder: st.holder, token: st.token };
  }

  async #recordExpiry(e: { holder: string; token: number }): Promise<void> {
    try {
      await withDb(this.env, (db) =>
        recordOperation(this.env, db, { op: 'lock_expire', repoUrl: this.#repoUrl, leaseId: e.holder.split(':')[0], startedAt: Date.now(), durationMs: 0, result: 'expired', detail: { token: e.token, lock: this.ctx.id.name } }),
      );
    } catch (err) {
      this.#log.warn('audit_write_failed', { error: String(err) });
    }
  }

  #timeout(holder: string, enqueuedAt: number, position: number): LockAcquireResult {
    const now = Date.now();
    const st = this.#state();
    this.#audit('timeout', holder, null, now - enqueuedAt);
    this.#count({ lock_timeouts_total: 1 });
    const retryAfterS = Math.max(1, Math.ceil((Math.max(st.expires_at - now, 0) + position * 1000) / 1000));
    return { ok: false, reason: 'timeout', waitedMs: now - enqueuedAt, position, retryAfterS, holder: st.holder };
  }

  async #arm(): Promise<void> {
    const st = this.#state();
    const d = Number(this.#sql.exec(`SELECT coalesce(min(deadline), 0) AS d FROM waiters`).one().d);
    const candidates = [st.holder ? st.expires_at : 0, d].filter((x) => x > 0);
    if (candidates.length) await this.ctx.storage.setAlarm(Math.min(...candidates));
    else await this.ctx.storage.deleteAlarm();
  }

  #state(): LockState {
    const r = this.#sql.exec(`SELECT holder, token, expires_at, granted_at FROM lock_state WHERE id=1`).one();
    return { holder: (r.holder as string | null) ?? null, token: Number(r.token), expires_at: Number(r.expires_at), granted_at: Number(r.granted_at) };
  }

  #entryDone(id: string): boolean {
    const row = this.#sql.exec(`SELECT status FROM entries WHERE id=?`, id).toArray()[0];
    return !!row && row.status !== 'pending' && row.status !== 'claimed';
  }

  #waiterCount(): number {
    return Number(this.#sql.exec(`SELECT count(*) AS n FROM waiters`).one().n);
  }

  /** Forwards lock event counts to the MetricsHub (fire-and-forget; /metrics cannot enumerate locks). */
  #count(deltas: Deltas): void {
    reportDeltas(this.env, deltas, this.#log, (p) => this.ctx.waitUntil(p));
  }

  #audit(event: string, holder: string | null, token: number | null, waitMs: number | null): void {
    this.#sql.exec(`INSERT INTO audit(event, holder, token, wait_ms, at) VALUES (?,?,?,?,?)`, event, holder, token, waitMs, Date.now());
  }
}
