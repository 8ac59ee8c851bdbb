// PoolCoordinator's SQLite access: members, leases and metric counters (no decisions here).
import { randomId } from '../lib/crypto.ts';
import { withShard } from './shards.ts';
import { observation } from '../metrics/series.ts';
import type { LeaseSource, Member } from './decide.ts';
import { ACTIVE_STATUSES, type AcquireRequest, type LeaseRecord, type PoolSettings, type PoolStats } from './types.ts';

/** SQL list of the active lease statuses, for `status IN …`. */
export const ACTIVE = `(${ACTIVE_STATUSES.map((x) => `'${x}'`).join(',')})`;

/** Typed reads and writes of the coordinator's tables. */
export class PoolStore {
  readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** Inserts a new lease (status initializing); its id carries the minting coordinator's shard. */
  insertLease(req: AcquireRequest, sandboxId: string, source: LeaseRecord['source'], home: string | null, s: PoolSettings, shard = 0): LeaseRecord {
    const now = Date.now();
    const lease: LeaseRecord = {
      id: withShard(randomId('sbx'), shard),
      agent_id: req.agentId,
      task_id: req.taskId,
      repo_url: req.repoUrl,
      repo_key: req.repoKey,
      branch: req.branch,
      agent_branch: req.agentBranch,
      sandbox_id: sandboxId,
      mode: req.mode,
      source,
      status: 'initializing',
      created_at: now,
      expires_at: now + (req.ttlS ?? s.ttlS) * 1000,
      workdir: null,
      home,
      idem_key: req.idemKey ?? null,
    };
    this.sql.exec(
      `INSERT INTO leases(id,agent_id,task_id,repo_url,repo_key,branch,agent_branch,sandbox_id,mode,source,status,created_at,expires_at,workdir,home,idem_key) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      lease.id, lease.agent_id, lease.task_id, lease.repo_url, lease.repo_key, lease.branch, lease.agent_branch, lease.sandbox_id,
      lease.mode, lease.source, lease.status, lease.created_at, lease.expires_at, lease.workdir, lease.home, lease.idem_key,
    );
    return lease;
  }

  /** Counts a granted lease by source and mode and observes its wait (one statement). */
  countLease(lease: LeaseRecord, waitMs: number, reused: boolean): void {
    this.incMany({
      [`leases_total{source="${lease.source}",mode="${lease.mode}"}`]: 1,
      [`leases_reused_total{reused="${reused}"}`]: 1,
      ...observation('lease_wait_seconds', waitMs / 1000),
    });
  }

  /** Adds to a counter. */
  inc(name: string, by = 1): void {
    this.sql.exec(`INSERT INTO counters(name,value) VALUES(?,?) ON CONFLICT(name) DO UPDATE SET value=value+excluded.value`, name, by);
  }

  /** Adds to several counters in one statement (a histogram observation touches a dozen series). */
  incMany(deltas: Record<string, number>): void {
    const entries = Object.entries(deltas);
    if (!entries.length) return;
    this.sql.exec(
      `INSERT INTO counters(name,value) VALUES ${entries.map(() => '(?,?)').join(',')} ON CONFLICT(name) DO UPDATE SET value=value+excluded.value`,
      ...entries.flat(),
    );
  }

  /** Observes a duration in seconds into a registered histogram (src/metrics/families.ts). */
  observe(name: string, seconds: number): void {
    this.incMany(observation(name, seconds));
  }

  /** Starts a member's idle clock (it just turned idle). */
  enterIdle(sandboxId: string, now: number): void {
    this.sql.exec(`UPDATE members SET idle_since=? WHERE sandbox_id=? AND state='idle' AND idle_since IS NULL`, now, sandboxId);
  }

  /** Stops a member's idle clock (leased or terminated) and adds its idle time to the counter. */
  leaveIdle(sandboxId: string, now: number): void {
    const row = this.rows<{ idle_since: number | null }>(`SELECT idle_since FROM members WHERE sandbox_id=?`, sandboxId)[0];
    if (row?.idle_since == null) return;
    this.inc('pool_idle_sandbox_seconds_total', Math.max(0, now - row.idle_since) / 1000);
    this.sql.exec(`UPDATE members SET idle_since=NULL WHERE sandbox_id=?`, sandboxId);
  }

  // Only this store writes the flag, so it is read from storage once per incarnation.
  #draining: boolean | undefined;

  /** Whether the pool is draining (set by an operator; survives restarts). */
  draining(): boolean {
    this.#draining ??= this.rows(`SELECT 1 FROM kv WHERE key='draining'`).length > 0;
    return this.#draining;
  }

  /** Starts or ends draining. */
  setDraining(on: boolean): void {
    if (on) this.sql.exec(`INSERT INTO kv(key,value) VALUES('draining','1') ON CONFLICT(key) DO NOTHING`);
    else this.sql.exec(`DELETE FROM kv WHERE key='draining'`);
    this.#draining = on;
  }

  /** One page of active leases in grant order, after the (created_at, id) cursor. */
  activeLeasePage(limit: number, after?: { createdAt: number; id: string }): LeaseRecord[] {
    return after
      ? this.rows<LeaseRecord>(`SELECT * FROM leases WHERE status IN ${ACTIVE} AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`, after.createdAt, after.id, limit)
      : this.rows<LeaseRecord>(`SELECT * FROM leases WHERE status IN ${ACTIVE} ORDER BY created_at, id LIMIT ?`, limit);
  }

  /**
   * Records the agent leases active once a lease is granted, as the peak of its `bucketMs` bucket
   * (one row per bucket, so the demand window is a few dozen rows however many leases it saw).
   */
  recordDemand(now: number, active: number, bucketMs: number): void {
    this.sql.exec(`INSERT INTO demand(bucket, peak) VALUES (?, ?) ON CONFLICT(bucket) DO UPDATE SET peak = max(peak, excluded.peak)`, Math.floor(now / bucketMs), active);
  }

  /** Agent leases active now, the landers' own leases left out (a count kept by triggers). */
  activeAgentLeases(): number {
    return this.one(`SELECT coalesce(max(n), 0) AS n FROM lease_counts WHERE name = 'agent_active'`);
  }

  /** One agent's active leases (a count kept by triggers). */
  agentActive(agentId: string): number {
    return this.one(`SELECT coalesce(max(n), 0) AS n FROM agent_leases WHERE agent_id = ?`, agentId);
  }

  /** The most agent leases active at once within the last `windowMs` (0 when none); a read only. */
  peakActive(now: number, windowMs: number, bucketMs: number): number {
    return this.one(`SELECT coalesce(max(peak), 0) AS n FROM demand WHERE bucket >= ?`, Math.floor((now - windowMs) / bucketMs));
  }

  /** Drops demand buckets older than the window (maintenance, not on every grant). */
  pruneDemand(now: number, windowMs: number, bucketMs: number): void {
    this.sql.exec(`DELETE FROM demand WHERE bucket < ?`, Math.floor((now - windowMs) / bucketMs));
  }

  /**
   * The idle pooled member a lease for `repoKey` gets: the oldest one already holding the repo
   * (affinity), else the oldest blank one (other repos' clones stay for their own hits), else the
   * oldest of any clone. Each step is one lookup on the members_pick / members_age indexes.
   */
  pickIdle(repoKey: string): { member: Member; source: LeaseSource } | null {
    const aff = this.rows<Member>(`SELECT * FROM members WHERE state='idle' AND mode='pooled' AND repo_key=? ORDER BY created_at LIMIT 1`, repoKey)[0];
    if (aff) return { member: aff, source: 'affinity' };
    const blank = this.rows<Member>(`SELECT * FROM members WHERE state='idle' AND mode='pooled' AND repo_key IS NULL ORDER BY created_at LIMIT 1`)[0];
    if (blank) return { member: blank, source: 'warm' };
    const any = this.rows<Member>(`SELECT * FROM members WHERE state='idle' AND mode='pooled' ORDER BY created_at LIMIT 1`)[0];
    return any ? { member: any, source: 'warm' } : null;
  }

  /** Every member. */
  members(): Member[] {
    return this.rows<Member>(`SELECT * FROM members`);
  }

  /** One member. */
  member(id: string): Member | null {
    return this.rows<Member>(`SELECT * FROM members WHERE sandbox_id=?`, id)[0] ?? null;
  }

  /** One lease. */
  lease(id: string): LeaseRecord | null {
    return this.rows<LeaseRecord>(`SELECT * FROM leases WHERE id=?`, id)[0] ?? null;
  }

  /** How many members exist (any state). */
  total(): number {
    return this.one(`SELECT coalesce(sum(n), 0) AS n FROM member_counts`);
  }

  /** Runs a query and returns its rows. */
  rows<T>(q: string, ...args: unknown[]): T[] {
    return this.sql.exec(q, ...args).toArray() as unknown as T[];
  }

  /** Runs a count-style query and returns its `n`. */
  one(q: string, ...args: unknown[]): number {
    return Number(this.sql.exec(q, ...args).one().n);
  }

  /** Active leases whose deadline has passed. */
  overdueLeases(now: number): LeaseRecord[] {
    return this.rows<LeaseRecord>(`SELECT * FROM leases WHERE status IN ${ACTIVE} AND expires_at <= ?`, now);
  }

  /**
   * Pooled members that are idle or will be soon: being created, scrubbed after a release or
   * refreshed (what counts towards the idle target; a scrub that fails terminates its member, and
   * the next maintenance makes up for it).
   */
  warmCount(): number {
    return this.one(`SELECT coalesce(sum(n), 0) AS n FROM member_counts WHERE mode='pooled' AND state IN ('idle','creating','scrubbing','refreshing')`);
  }

  /** Member gauges, counters, active leases and the idle members (the stored part of PoolStats). */
  snapshot(): Omit<PoolStats, 'waiters' | 'settings' | 'projection_backlog'> {
    const members: Record<string, number> = {};
    for (const r of this.rows<{ state: string; mode: string; n: number }>(`SELECT state, mode, count(*) AS n FROM members GROUP BY state, mode`)) {
      members[`${r.state}:${r.mode}`] = r.n;
    }
    const counters: Record<string, number> = {};
    for (const r of this.rows<{ name: string; value: number }>(`SELECT name, value FROM counters`)) counters[r.name] = r.value;
    // Idle time accrues continuously: the stored total plus the running clocks of idle members.
    const running = this.one(`SELECT coalesce(sum(? - idle_since), 0) AS n FROM members WHERE idle_since IS NOT NULL`, Date.now()) / 1000;
    counters.pool_idle_sandbox_seconds_total = (counters.pool_idle_sandbox_seconds_total ?? 0) + Math.max(0, running);
    return {
      members,
      counters,
      draining: this.draining(),
      leases_active: this.one(`SELECT count(*) AS n FROM leases WHERE status IN ${ACTIVE}`),
      idle: this.rows<{ sandbox_id: string; repo_key: string | null }>(`SELECT sandbox_id, repo_key FROM members WHERE state='idle' ORDER BY created_at`),
    };
  }

  /** Pooled members on their way back to idle: being scrubbed after a release, or refreshed. */
  returningCount(): number {
    return this.one(`SELECT coalesce(sum(n), 0) AS n FROM member_counts WHERE mode='pooled' AND state IN ('scrubbing','refreshing')`);
  }

  /** Whether a pooled member is idle. */
  hasIdlePooled(): boolean {
    return this.rows(`SELECT 1 FROM members WHERE state='idle' AND mode='pooled' LIMIT 1`).length > 0;
  }
}
