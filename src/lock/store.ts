// RepoLock's SQLite storage: the lock row, FIFO waiters, queued landing entries, remembered push
// answers, the audit trail and a small kv, behind typed reads and writes (rows mapped, no casts).

/** Idempotent schema statements, run when the DO starts. */
const SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS lock_state (id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT, token INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL DEFAULT 0, granted_at INTEGER NOT NULL DEFAULT 0, ttl_ms INTEGER NOT NULL DEFAULT 0)`,
  `INSERT OR IGNORE INTO lock_state(id) VALUES (1)`,
  `CREATE TABLE IF NOT EXISTS waiters (seq INTEGER PRIMARY KEY AUTOINCREMENT, holder TEXT NOT NULL, enqueued_at INTEGER NOT NULL, deadline INTEGER NOT NULL, ttl_ms INTEGER NOT NULL, entry_id TEXT)`,
  `CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, lease_id TEXT, status TEXT NOT NULL, claim_token INTEGER, commit_sha TEXT, conflicts TEXT, batch_size INTEGER, created_at INTEGER NOT NULL, done_at INTEGER)`,
  `CREATE INDEX IF NOT EXISTS entries_status ON entries(status, seq)`,
  `CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, holder TEXT, token INTEGER, wait_ms INTEGER, at INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, body TEXT NOT NULL, at INTEGER NOT NULL)`,
  // The objects a landing added (a base64 git bundle), by the token that landed them: its pushers sync from it.
  `CREATE TABLE IF NOT EXISTS batch_bundles (token INTEGER PRIMARY KEY, bundle TEXT NOT NULL, at INTEGER NOT NULL)`,
];

/** Schema changes, applied once each in order; the schema version is the number applied (kv 'schema_version'). */
const MIGRATIONS_SQL = [
  `ALTER TABLE entries ADD COLUMN agent_id TEXT`,
  // The lease of the holder and of each waiter, passed in by the caller (never parsed from `holder`).
  `ALTER TABLE lock_state ADD COLUMN lease_id TEXT`,
  `ALTER TABLE waiters ADD COLUMN lease_id TEXT`,
  // How each entry lands (rebase, merge or squash; null is rebase) and the agent branch it came from.
  `ALTER TABLE entries ADD COLUMN strategy TEXT`,
  `ALTER TABLE entries ADD COLUMN head_branch TEXT`,
];

/** The schema version a migrated store is at. */
export const LOCK_SCHEMA_VERSION = MIGRATIONS_SQL.length;

/** The stored lock: its holder (null when free), the last fencing token and the holder's deadline. */
export interface LockState {
  holder: string | null;
  /** The lease the holder acts for, when the caller named one. */
  lease_id: string | null;
  token: number;
  expires_at: number;
  granted_at: number;
}

/** One caller waiting for the lock. */
export interface Waiter {
  seq: number;
  holder: string;
  leaseId: string | null;
  enqueuedAt: number;
  deadline: number;
  ttlMs: number;
  entryId: string | null;
}

/** Where a queued landing entry is in its life. */
export type EntryStatus = 'pending' | 'claimed' | 'landed' | 'conflict' | 'missing' | 'failed' | 'cancelled';

/** How a queued entry lands on the base: its commits replayed, a merge commit, or one squashed commit. */
export type LandingStrategy = 'rebase' | 'merge' | 'squash';

/** Every landing strategy; the first is the default. */
export const LANDING_STRATEGIES: readonly LandingStrategy[] = ['rebase', 'merge', 'squash'];

/** The outcome of an entry a landing settled. */
export type EntryOutcome = 'landed' | 'conflict' | 'missing' | 'failed';

/** A queued landing (batched pushes to a base branch). */
export interface LockEntry {
  id: string;
  status: EntryStatus;
  commit_sha: string | null;
  conflicts: string[];
  batch_size: number | null;
  /** For a landed entry: base64 of a git bundle holding its landed commit, when the landing made one. */
  bundle: string | null;
}

/** One entry's outcome as a landing reports it. */
export interface EntryResult {
  id: string;
  status: EntryOutcome;
  commit?: string;
  conflicts: string[];
}

/** An entry claimed for a landing, with the agent its commits are attributed to and how it lands. */
export interface ClaimedEntry {
  id: string;
  agentId: string;
  strategy: LandingStrategy;
  /** The agent branch the entry was pushed from (named in a merge commit's message), when known. */
  headBranch: string | null;
}

/** How a new entry lands. */
export interface EntryOptions {
  strategy?: LandingStrategy;
  headBranch?: string | null;
}

/** One row of the audit trail. */
export interface AuditRow {
  event: string;
  holder: string | null;
  token: number | null;
  wait_ms: number | null;
  at: number;
}

type Row = Record<string, SqlStorageValue>;

const ENTRY_STATUSES: readonly EntryStatus[] = ['pending', 'claimed', 'landed', 'conflict', 'missing', 'failed', 'cancelled'];

function text(v: SqlStorageValue | undefined): string {
  if (typeof v !== 'string') throw new Error(`repo lock store: expected text, got ${typeof v}`);
  return v;
}
function textOrNull(v: SqlStorageValue | undefined): string | null {
  return v === null || v === undefined ? null : text(v);
}
function int(v: SqlStorageValue | undefined): number {
  if (typeof v !== 'number') throw new Error(`repo lock store: expected a number, got ${typeof v}`);
  return v;
}
function intOrNull(v: SqlStorageValue | undefined): number | null {
  return v === null || v === undefined ? null : int(v);
}
function entryStatus(v: SqlStorageValue | undefined): EntryStatus {
  const s = text(v);
  if (!(ENTRY_STATUSES as readonly string[]).includes(s)) throw new Error(`repo lock store: unknown entry status ${s}`);
  return s as EntryStatus;
}
function strategyOf(v: SqlStorageValue | undefined): LandingStrategy {
  const s = textOrNull(v);
  if (s === null) return 'rebase';
  if (!(LANDING_STRATEGIES as readonly string[]).includes(s)) throw new Error(`repo lock store: unknown strategy ${s}`);
  return s as LandingStrategy;
}
function stringList(v: SqlStorageValue | undefined): string[] {
  const s = textOrNull(v);
  if (!s) return [];
  const parsed: unknown = JSON.parse(s);
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

function toWaiter(r: Row): Waiter {
  return {
    seq: int(r.seq),
    holder: text(r.holder),
    leaseId: textOrNull(r.lease_id),
    enqueuedAt: int(r.enqueued_at),
    deadline: int(r.deadline),
    ttlMs: int(r.ttl_ms),
    entryId: textOrNull(r.entry_id),
  };
}

const WAITER_COLUMNS = 'seq, holder, lease_id, enqueued_at, deadline, ttl_ms, entry_id';

/** Typed reads and writes of the RepoLock's tables (no decisions here). */
export class LockStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** Creates the tables and applies pending migrations; returns the schema version. */
  migrate(): number {
    for (const s of SCHEMA_SQL) this.#sql.exec(s);
    const applied = Number(this.kvGet('schema_version') ?? 0);
    for (let v = applied; v < MIGRATIONS_SQL.length; v++) this.#sql.exec(MIGRATIONS_SQL[v]);
    this.kvSet('schema_version', String(LOCK_SCHEMA_VERSION));
    return LOCK_SCHEMA_VERSION;
  }

  #rows(query: string, ...binds: SqlStorageValue[]): Row[] {
    return this.#sql.exec(query, ...binds).toArray();
  }

  #count(query: string, ...binds: SqlStorageValue[]): number {
    return int(this.#sql.exec(query, ...binds).one().n);
  }

  // ---- the lock row

  /** The lock row. */
  state(): LockState {
    const r = this.#sql.exec(`SELECT holder, lease_id, token, expires_at, granted_at FROM lock_state WHERE id=1`).one();
    return { holder: textOrNull(r.holder), lease_id: textOrNull(r.lease_id), token: int(r.token), expires_at: int(r.expires_at), granted_at: int(r.granted_at) };
  }

  /** Records a grant: the new holder, its token and deadline. */
  setHolder(g: { holder: string; leaseId: string | null; token: number; expiresAt: number; grantedAt: number; ttlMs: number }): void {
    this.#sql.exec(`UPDATE lock_state SET holder=?, lease_id=?, token=?, expires_at=?, granted_at=?, ttl_ms=? WHERE id=1`, g.holder, g.leaseId, g.token, g.expiresAt, g.grantedAt, g.ttlMs);
  }

  /** Frees the lock (the token counter stays). */
  clearHolder(): void {
    this.#sql.exec(`UPDATE lock_state SET holder=NULL, lease_id=NULL, expires_at=0 WHERE id=1`);
  }

  /** Moves the holder's deadline. */
  setExpiry(expiresAt: number): void {
    this.#sql.exec(`UPDATE lock_state SET expires_at=? WHERE id=1`, expiresAt);
  }

  // ---- waiters

  /** Queues a waiter; returns its sequence number. */
  addWaiter(w: Omit<Waiter, 'seq'>): number {
    this.#sql.exec(`INSERT INTO waiters(holder, lease_id, enqueued_at, deadline, ttl_ms, entry_id) VALUES (?,?,?,?,?,?)`, w.holder, w.leaseId, w.enqueuedAt, w.deadline, w.ttlMs, w.entryId);
    return int(this.#sql.exec(`SELECT last_insert_rowid() AS s`).one().s);
  }

  /** A waiter still queued, or null. */
  waiter(seq: number): Waiter | null {
    const r = this.#rows(`SELECT ${WAITER_COLUMNS} FROM waiters WHERE seq=?`, seq)[0];
    return r ? toWaiter(r) : null;
  }

  /** The waiter at the head of the queue, or null. */
  firstWaiter(): Waiter | null {
    const r = this.#rows(`SELECT ${WAITER_COLUMNS} FROM waiters ORDER BY seq LIMIT 1`)[0];
    return r ? toWaiter(r) : null;
  }

  /** Waiters whose deadline has passed. */
  waitersDue(now: number): Waiter[] {
    return this.#rows(`SELECT ${WAITER_COLUMNS} FROM waiters WHERE deadline <= ?`, now).map(toWaiter);
  }

  /** Waiters that wait for a queued entry. */
  entryWaiters(): Waiter[] {
    return this.#rows(`SELECT ${WAITER_COLUMNS} FROM waiters WHERE entry_id IS NOT NULL`).map(toWaiter);
  }

  /** Removes a waiter. */
  deleteWaiter(seq: number): void {
    this.#sql.exec(`DELETE FROM waiters WHERE seq=?`, seq);
  }

  /** How many callers wait. */
  waiterCount(): number {
    return this.#count(`SELECT count(*) AS n FROM waiters`);
  }

  /** A waiter's 1-based place in the queue. */
  position(seq: number): number {
    return this.#count(`SELECT count(*) AS n FROM waiters WHERE seq<=?`, seq);
  }

  /** The earliest waiter deadline, or 0 when nobody waits. */
  nextDeadline(): number {
    return int(this.#sql.exec(`SELECT coalesce(min(deadline), 0) AS d FROM waiters`).one().d);
  }

  // ---- landing entries

  /** Queues an entry behind every earlier one (a second enqueue of the same id changes nothing). */
  addEntry(id: string, leaseId: string, agentId: string, now: number, o: EntryOptions = {}): void {
    const seq = this.#count(`SELECT coalesce(max(seq), 0) + 1 AS n FROM entries`);
    this.#sql.exec(
      `INSERT OR IGNORE INTO entries(id, seq, lease_id, agent_id, status, created_at, strategy, head_branch) VALUES (?,?,?,?,'pending',?,?,?)`,
      id, seq, leaseId, agentId, now, o.strategy ?? 'rebase', o.headBranch ?? null,
    );
  }

  /** Marks up to `max` pending entries, in queue order, as claimed by `token`. */
  claimPending(token: number, max: number): ClaimedEntry[] {
    const rows = this.#rows(`SELECT id, agent_id, strategy, head_branch FROM entries WHERE status='pending' ORDER BY seq LIMIT ?`, max);
    for (const r of rows) this.#sql.exec(`UPDATE entries SET status='claimed', claim_token=? WHERE id=?`, token, r.id);
    return rows.map((r) => ({ id: text(r.id), agentId: textOrNull(r.agent_id) ?? '', strategy: strategyOf(r.strategy), headBranch: textOrNull(r.head_branch) }));
  }

  /** Records the outcomes of the entries `token` claimed. */
  settle(token: number, results: EntryResult[], now: number): void {
    for (const r of results) {
      this.#sql.exec(
        `UPDATE entries SET status=?, commit_sha=?, conflicts=?, batch_size=?, done_at=? WHERE id=? AND claim_token=?`,
        r.status, r.commit ?? null, JSON.stringify(r.conflicts), results.length, now, r.id, token,
      );
    }
  }

  /** Returns the entries `token` claimed to the queue. */
  unclaim(token: number): void {
    this.#sql.exec(`UPDATE entries SET status='pending', claim_token=NULL WHERE status='claimed' AND claim_token=?`, token);
  }

  /** An entry's status, or null when unknown. */
  entryStatus(id: string): EntryStatus | null {
    const r = this.#rows(`SELECT status FROM entries WHERE id=?`, id)[0];
    return r ? entryStatus(r.status) : null;
  }

  /** Marks an entry cancelled. */
  cancelEntry(id: string, now: number): void {
    this.#sql.exec(`UPDATE entries SET status='cancelled', done_at=? WHERE id=?`, now, id);
  }

  /** An entry, or null when unknown. */
  entry(id: string): LockEntry | null {
    const r = this.#rows(
      `SELECT e.id, e.status, e.commit_sha, e.conflicts, e.batch_size, b.bundle FROM entries e LEFT JOIN batch_bundles b ON e.status='landed' AND b.token=e.claim_token WHERE e.id=?`,
      id,
    )[0];
    if (!r) return null;
    return { id: text(r.id), status: entryStatus(r.status), commit_sha: textOrNull(r.commit_sha), conflicts: stringList(r.conflicts), batch_size: intOrNull(r.batch_size), bundle: textOrNull(r.bundle) };
  }

  /** Keeps the bundle of the landing made with `token`. */
  keepBundle(token: number, bundle: string, now: number): void {
    this.#sql.exec(`INSERT OR REPLACE INTO batch_bundles(token, bundle, at) VALUES (?,?,?)`, token, bundle, now);
  }

  /** Forgets bundles kept before `before`. */
  purgeBundles(before: number): void {
    this.#sql.exec(`DELETE FROM batch_bundles WHERE at < ?`, before);
  }

  /** Forgets entries settled before `before`. */
  purgeEntries(before: number): void {
    this.#sql.exec(`DELETE FROM entries WHERE done_at IS NOT NULL AND done_at < ?`, before);
  }

  // ---- remembered push answers

  /** Keeps the first answer under `key`. */
  remember(key: string, body: string, now: number): void {
    this.#sql.exec(`INSERT INTO results(key, body, at) VALUES (?,?,?) ON CONFLICT(key) DO NOTHING`, key, body, now);
  }

  /** The answer kept under `key`, or null. */
  recall(key: string): string | null {
    const r = this.#rows(`SELECT body FROM results WHERE key=?`, key)[0];
    return r ? text(r.body) : null;
  }

  /** Forgets answers kept before `before`. */
  purgeResults(before: number): void {
    this.#sql.exec(`DELETE FROM results WHERE at < ?`, before);
  }

  // ---- kv

  /** A kv value, or null. */
  kvGet(key: string): string | null {
    const r = this.#rows(`SELECT value FROM kv WHERE key=?`, key)[0];
    return r ? text(r.value) : null;
  }

  /** Sets a kv value. */
  kvSet(key: string, value: string): void {
    this.#sql.exec(`INSERT INTO kv(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, key, value);
  }

  /** Removes a kv value. */
  kvDelete(key: string): void {
    this.#sql.exec(`DELETE FROM kv WHERE key=?`, key);
  }

  // ---- audit

  /** Appends an audit row. */
  audit(event: string, holder: string | null, token: number | null, waitMs: number | null, at: number): void {
    this.#sql.exec(`INSERT INTO audit(event, holder, token, wait_ms, at) VALUES (?,?,?,?,?)`, event, holder, token, waitMs, at);
  }

  /** The newest audit rows, newest first. */
  recentAudit(limit: number): AuditRow[] {
    return this.#rows(`SELECT event, holder, token, wait_ms, at FROM audit ORDER BY seq DESC LIMIT ?`, limit).map((r) => ({
      event: text(r.event),
      holder: textOrNull(r.holder),
      token: intOrNull(r.token),
      wait_ms: intOrNull(r.wait_ms),
      at: int(r.at),
    }));
  }

  /** Keeps about the newest `keep` audit rows. */
  trimAudit(keep: number): void {
    this.#sql.exec(`DELETE FROM audit WHERE seq <= (SELECT max(seq) FROM audit) - ?`, keep);
  }
}
