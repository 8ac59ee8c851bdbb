// PoolCoordinator: authoritative lease state and the warm pool, in this DO's SQLite storage.
// Every state transition is one synchronous read-check-write block; awaits happen only between them.
import { DurableObject } from 'cloudflare:workers';
import { parseConfig } from '../config.ts';
import { bucketOf, randomId } from '../lib/crypto.ts';
import { componentLogger } from '../lib/do-logger.ts';
import type { Logger } from '../lib/log.ts';
import { DEMAND_BUCKET_MS, DEMAND_WINDOW_MS, demandTarget, idleTimeoutMs, prewarmPick, refillCount, retireAt } from '../pool/decide.ts';
import { ACTIVE_STATUSES, PREPARE_DEADLINE_MS, type AcquireRequest, type AcquireResult, type DrainReport, type GitPrincipal, type LeaseLookup, type LeaseRecord, type PoolSettings, type PoolStats } from '../pool/types.ts';
import { LANDER_AGENT } from '../gateway/ref-rules.ts';
import { gatewayAuthorization, gatewayRepoUrl, principalUser } from '../gateway/credentials.ts';
import { createSandbox, isAlive, killSandbox, listSandboxIds, providerOptions, type ProviderOptions } from '../sandbox/provider.ts';
import { precloneSandbox, setupSandbox } from '../sandbox/maintenance.ts';
import type { ScrubOutcome } from './member-scrubber.ts';
import { OUTBOX_SQL } from '../pool/projector.ts';
import { LeaseHistory } from '../pool/history.ts';
import { IdleFreshness } from '../pool/freshness.ts';
import { MIGRATIONS_SQL, settingsFromConfig, SCHEMA_SQL } from '../pool/storage.ts';
import { ACTIVE, PoolStore } from '../pool/store.ts';
import { shardOfName } from '../pool/shards.ts';
import { WaitQueue } from '../pool/wait-queue.ts';
import { CreateLimiter } from '../pool/create-limiter.ts';

/** MemberScrubbers per pool: scrubs spread over them by sandbox id (each is mostly waiting on the provider). */
const SCRUBBERS = 16;

/** How long a member past the demand target stays idle before it is let go (no churn on blips). */
const IDLE_GRACE_MS = 60_000;

/** What an idempotency key promises stays the same between retries. */
function fingerprint(r: AcquireRequest): string {
  return JSON.stringify([r.repoKey, r.branch, r.agentBranch, r.taskId, r.ttlS ?? null]);
}

function idemMismatch(): AcquireResult {
  return { ok: false, reason: 'idempotency_mismatch', message: 'this Idempotency-Key was used with a different request body', retryAfterS: 0 };
}

/** The pool coordinator DO: leases, warm pool, refill, expiry and health. */
export class PoolCoordinator extends DurableObject<Env> {
  #sql: SqlStorage;
  #db: PoolStore;
  #log: Logger;
  #history: LeaseHistory;
  #fresh: IdleFreshness;
  #provider: ProviderOptions | null = null;
  #settings: PoolSettings | null = null;
  #waiters = new WaitQueue<AcquireRequest, AcquireResult>(() => {
    const s = this.settings();
    this.#db.inc('lease_rejections_total{reason="exhausted"}');
    return { ok: false, reason: 'exhausted', message: `no sandbox became free within ${s.leaseWaitMs} ms`, retryAfterS: Math.max(1, Math.ceil(s.leaseWaitMs / 2000)) };
  });
  #creates = new CreateLimiter();
  // Scrubs running in this incarnation; a 'scrubbing' member missing here was orphaned by an eviction.
  #scrubs = new Map<string, Promise<void>>();
  // Concurrent requests with the same idempotency key share one acquisition.
  #pendingIdem = new Map<string, { fp: string; p: Promise<AcquireResult> }>();
  // Acquisitions in flight per agent (creating or waiting): counted with the agent's active leases,
  // so the per-agent cap holds for cold creations and waiters too.
  #inflight = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#db = new PoolStore(ctx.storage.sql);
    this.#log = componentLogger(env, 'pool');
    this.#history = new LeaseHistory(ctx.storage.sql, env, this.#log);
    this.#fresh = new IdleFreshness({
      sql: ctx.storage.sql, db: this.#db, env, log: this.#log,
      provider: () => this.#p, poolName: () => this.#poolName(),
      terminate: (id, reason) => this.#terminate(id, reason), pump: () => this.#pump(),
    });
    ctx.blockConcurrencyWhile(async () => {
      for (const stmt of SCHEMA_SQL) this.#sql.exec(stmt);
      this.#sql.exec(OUTBOX_SQL);
      const row = this.#sql.exec(`SELECT value FROM kv WHERE key='schema_version'`).toArray()[0];
      for (let v = row ? Number(row.value) : 0; v < MIGRATIONS_SQL.length; v++) this.#sql.exec(MIGRATIONS_SQL[v]);
      this.#sql.exec(`INSERT INTO kv(key,value) VALUES('schema_version',?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, String(MIGRATIONS_SQL.length));
    });
  }

  get #p(): ProviderOptions {
    this.#provider ??= providerOptions(parseConfig(this.env));
    return this.#provider;
  }

  /** Effective settings: config defaults with stored overrides (read once, changed by configure). */
  settings(): PoolSettings {
    if (!this.#settings) {
      const base = settingsFromConfig(parseConfig(this.env), this.#shard());
      const row = this.#sql.exec(`SELECT value FROM kv WHERE key='settings'`).toArray()[0];
      this.#settings = row ? { ...base, ...(JSON.parse(String(row.value)) as Partial<PoolSettings>) } : base;
    }
    return this.#settings;
  }

  /** Stores setting overrides for this coordinator (operators, tests) and re-arms maintenance. */
  async configure(overrides: Partial<PoolSettings>): Promise<PoolSettings> {
    this.#sql.exec(`INSERT INTO kv(key,value) VALUES('settings',?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, JSON.stringify(overrides));
    this.#settings = null;
    await this.#arm(Date.now());
    return this.settings();
  }

  /** Leases a sandbox: an idle pool member, a new one, or after a FIFO wait. */
  async acquire(req: AcquireRequest): Promise<AcquireResult> {
    if (!req.idemKey) return this.#acquire(req);
    const key = `${req.agentId}\u0000${req.idemKey}`;
    const fp = fingerprint(req);
    const pending = this.#pendingIdem.get(key);
    if (pending) {
      if (pending.fp !== fp) return idemMismatch();
      return pending.p.then((r) => (r.ok ? { ...r, existing: true } : r));
    }
    const p = this.#acquire(req).finally(() => this.#pendingIdem.delete(key));
    this.#pendingIdem.set(key, { fp, p });
    return p;
  }

  /** Resolves a gateway principal (a lease id or a pre-cloning member's placeholder) while it is live. */
  async gitPrincipal(user: string): Promise<GitPrincipal | null> {
    if (user.startsWith('mbr_')) {
      // A member being scrubbed or brought to the tip: read-only, only while that runs (no tenant then).
      const m = this.#db.member(user.slice(4));
      if (!m || (m.state !== 'refreshing' && m.state !== 'scrubbing') || !m.repo_key || !m.repo_url || !m.base_branch) return null;
      return { kind: 'member', agentId: '', leaseId: user, repoKey: m.repo_key, repoUrl: m.repo_url, baseBranch: m.base_branch };
    }
    if (user.startsWith('pending_')) {
      const m = this.#db.member(user);
      if (!m || m.state !== 'creating' || !m.repo_key) return null;
      const repo = this.settings().prewarmRepos.find((r) => r.key === m.repo_key);
      return repo ? { kind: 'member', agentId: '', leaseId: user, repoKey: repo.key, repoUrl: repo.url, baseBranch: repo.branch } : null;
    }
    const l = this.#db.lease(user);
    if (!l || !ACTIVE_STATUSES.includes(l.status) || l.expires_at <= Date.now()) return null;
    return { kind: l.agent_id === LANDER_AGENT ? 'lander' : 'lease', agentId: l.agent_id, leaseId: l.id, repoKey: l.repo_key, repoUrl: l.repo_url, baseBranch: l.branch };
  }

  /** Ends every active lease of an agent (its API key was revoked); returns how many ended. */
  async endAgentLeases(agentId: string): Promise<number> {
    const leases = this.#db.rows<LeaseRecord>(`SELECT * FROM leases WHERE agent_id=? AND status IN ${ACTIVE}`, agentId);
    // Invariant: every status flips before the first await, so no request sees a half-ended set.
    for (const l of leases) this.#transition(l.id, 'terminated', 'revoke');
    for (const l of leases) await this.#returnMember(l, 'revoked');
    return leases.length;
  }

  async #acquire(req: AcquireRequest): Promise<AcquireResult> {
    const s = this.settings();
    await this.#ensureAlarm();
    // Backpressure: the lease history may lag by one batch, not without bound (LeaseHistory.behind).
    if (this.#history.behind()) await this.#history.project();
    // Invariant: one idempotency key maps to one lease, checked and claimed in this same block.
    if (req.idemKey) {
      const prev = this.#db.rows<LeaseRecord & { idem_fp: string | null }>(`SELECT * FROM leases WHERE agent_id=? AND idem_key=?`, req.agentId, req.idemKey)[0];
      if (prev && prev.idem_fp && prev.idem_fp !== fingerprint(req)) return idemMismatch();
      if (prev) return { ok: true, lease: prev, existing: true, waitedMs: 0 };
    }
    // The lander keeps landing during a drain, so agents that hold leases can still finish their pushes.
    if (req.agentId !== LANDER_AGENT && this.#db.draining()) return this.#drainingRefusal();
    // Invariant: the cap counts active leases plus acquisitions in flight, checked and claimed here.
    const active = this.#db.agentActive(req.agentId) + (this.#inflight.get(req.agentId) ?? 0);
    if (req.agentId !== LANDER_AGENT && active >= s.maxLeasesPerAgent) {
      return { ok: false, reason: 'agent_limit', message: `agent already holds ${active} leases (MAX_LEASES_PER_AGENT=${s.maxLeasesPerAgent})`, retryAfterS: 5 };
    }
    this.#inflight.set(req.agentId, (this.#inflight.get(req.agentId) ?? 0) + 1);
    try {
      const t0 = Date.now();
      const immediate = await this.#tryServe(req, s, t0, this.#waiters.length);
      if (immediate) return immediate;
      if (this.#waiters.length >= s.maxWaiters) {
        this.#db.inc('lease_rejections_total{reason="queue_full"}');
        return { ok: false, reason: 'queue_full', message: `the pool wait queue is full (${s.maxWaiters})`, retryAfterS: 5 };
      }
      return await this.#waiters.wait(req, t0, t0 + s.leaseWaitMs);
    } finally {
      const n = (this.#inflight.get(req.agentId) ?? 1) - 1;
      if (n > 0) this.#inflight.set(req.agentId, n);
      else this.#inflight.delete(req.agentId);
    }
  }

  /** Serves `req` now if an idle member or capacity exists; null means it must wait. */
  async #tryServe(req: AcquireRequest, s: PoolSettings, t0: number, ahead: number): Promise<AcquireResult | null> {
    if (req.mode === 'pooled') {
      // Invariant: an idle member is handed to exactly one lease (state flips in this block).
      const pick = this.#db.pickIdle(req.repoKey);
      if (pick) return this.#armFor(this.#grant(req, pick.member.sandbox_id, pick.source, pick.member.home, s, t0));
      // A member on its way back (being scrubbed or refreshed, well under a second) serves this lease
      // sooner and cheaper than a new sandbox: wait for it while more are coming back than leases
      // wait ahead of this one (its return, or its failure, pumps the queue).
      if (this.#db.returningCount() > ahead) return null;
    }
    if (this.#db.total() >= s.maxSandboxes) return null;
    const created = await this.#createMember(req.mode, s, true);
    if (!created.ok) return { ok: false, reason: 'provider', message: created.message, retryAfterS: 2 };
    return this.#armFor(this.#grant(req, created.sandboxId, 'cold', created.home, s, t0));
  }

  /** Moves the alarm earlier when a new lease's deadline precedes it, so leases expire on time. */
  async #armFor(r: AcquireResult): Promise<AcquireResult> {
    if (!r.ok) return r;
    const cur = await this.#getAlarm();
    if (cur === null || r.lease.expires_at < cur) await this.#setAlarm(r.lease.expires_at);
    await this.#refillSoon();
    return r;
  }

  /**
   * Runs maintenance at once when the idle pool has fallen below the demand target (a grant took a
   * member, a release lowered the active count), instead of at the next periodic alarm: otherwise
   * agents that lease again right after a release find the pool short and get cold sandboxes.
   */
  async #refillSoon(): Promise<void> {
    const now = Date.now();
    // Only a refill that can create a member is worth an early run (at MAX_SANDBOXES it cannot).
    const s = this.settings();
    if (this.#db.draining()) return;
    const total = this.#db.total();
    if (total >= s.maxSandboxes || refillCount(this.#db.warmCount(), total, this.#idleTarget(now), s.maxSandboxes) === 0) return;
    const cur = await this.#getAlarm();
    if (cur === null || cur > now + 50) await this.#setAlarm(now + 10);
  }

  /** Records a lease on a member and marks the member leased (one synchronous block). */
  #grant(req: AcquireRequest, sandboxId: string, source: LeaseRecord['source'], home: string | null, s: PoolSettings, t0: number): AcquireResult {
    const lease = this.#db.insertLease(req, sandboxId, source, home, s, this.#shard());
    if (source === 'affinity') {
      // Invariant: a lease skips the fetch only when its clone's base is the tip the service saw within MAX_STALENESS_S.
      const m = this.#db.member(sandboxId);
      const tip = this.#fresh.tip(req.repoKey, req.branch);
      if (m?.base_commit && m.base_branch === req.branch && tip?.sha === m.base_commit && Date.now() - tip.checked_at <= s.maxStalenessS * 1000) {
        this.#sql.exec(`UPDATE leases SET base_commit=?, fetched_at=? WHERE id=?`, tip.sha, tip.checked_at, lease.id);
        lease.base_commit = tip.sha;
        lease.fetched_at = tip.checked_at;
      }
    }
    if (req.idemKey) this.#sql.exec(`UPDATE leases SET idem_fp=? WHERE id=?`, fingerprint(req), lease.id);
    this.#db.leaveIdle(sandboxId, Date.now());
    this.#sql.exec(`UPDATE members SET state='leased', lease_id=? WHERE sandbox_id=?`, lease.id, sandboxId);
    this.#emit(lease.id, 'create');
    if (req.agentId !== LANDER_AGENT) this.#db.recordDemand(Date.now(), this.#db.activeAgentLeases(), DEMAND_BUCKET_MS);
    this.#db.countLease(lease, Date.now() - t0, source !== 'cold');
    this.#log.info('lease_granted', { lease: lease.id, agent: req.agentId, repo: req.repoKey, source, mode: req.mode, wait_ms: Date.now() - t0 });
    return { ok: true, lease, existing: false, waitedMs: Date.now() - t0 };
  }

  /** Records the prepared workdir; the lease becomes ready. */
  async markReady(leaseId: string, workdir: string, home: string, base?: { commit: string; fetched: boolean }): Promise<LeaseRecord | null> {
    const lease = this.#db.lease(leaseId);
    if (!lease || lease.status !== 'initializing') return lease;
    const now = Date.now();
    // A fetch at prepare time makes the base as fresh as now; a skipped one keeps the grant's freshness.
    const fetchedAt = base?.fetched ? now : (lease.fetched_at ?? null);
    this.#sql.exec(`UPDATE leases SET status='ready', workdir=?, home=?, base_commit=?, fetched_at=? WHERE id=?`, workdir, home, base?.commit ?? null, fetchedAt, leaseId);
    this.#emit(leaseId, 'clone');
    this.#sql.exec(`UPDATE members SET repo_key=?, repo_url=?, base_branch=?, home=? WHERE sandbox_id=?`, lease.repo_key, lease.repo_url, lease.branch, home, lease.sandbox_id);
    if (base?.fetched) this.#fresh.seeTip(lease.repo_key, lease.branch, lease.repo_url, base.commit, now);
    return this.#db.lease(leaseId);
  }

  /** Marks a lease failed and terminates its sandbox (it is in an unknown state); `failure` is what its owner reads. */
  async markFailed(leaseId: string, reason: string, error?: string, failure?: { code: string; message: string }): Promise<void> {
    const lease = this.#db.lease(leaseId);
    if (!lease) return;
    if (failure) this.#sql.exec(`UPDATE leases SET failure=? WHERE id=?`, JSON.stringify(failure), leaseId);
    this.#transition(leaseId, 'error', reason, error ?? reason);
    await this.#terminate(lease.sandbox_id, reason);
    await this.#pump();
  }

  /** Looks up a caller's lease; `touch` (the operation's name) marks it in use. Expired and foreign leases come back as reasons. */
  async lookup(leaseId: string, agentId: string, touch: string | false = false): Promise<LeaseLookup> {
    const lease = this.#db.lease(leaseId);
    if (!lease || lease.agent_id !== agentId) return { ok: false, reason: 'not_found' };
    if (lease.status === 'expired' || lease.status === 'terminated' || lease.status === 'error') return { ok: false, reason: lease.status, lease };
    if (lease.expires_at <= Date.now()) {
      await this.#expireLeases([lease]);
      return { ok: false, reason: 'expired', lease: this.#db.lease(leaseId) ?? lease };
    }
    if (lease.status === 'initializing' && lease.created_at + PREPARE_DEADLINE_MS <= Date.now()) {
      // Its clone ran in a Worker's background time, which the platform ended before it finished.
      await this.markFailed(leaseId, 'clone_failed', 'prepare did not finish', { code: 'CLONE_FAILED', message: `the clone did not finish within ${PREPARE_DEADLINE_MS / 1000} s` });
      return { ok: false, reason: 'error', lease: this.#db.lease(leaseId) ?? lease };
    }
    if (touch && lease.status === 'ready') {
      // The first operation moves the lease to in_use (one projected transition per lease, not per call).
      this.#transition(leaseId, 'in_use', touch);
      return { ok: true, lease: { ...lease, status: 'in_use' } };
    }
    return { ok: true, lease };
  }

  /** The caller's leases that are still active. */
  async list(agentId: string): Promise<LeaseRecord[]> {
    return this.#db.rows<LeaseRecord>(`SELECT * FROM leases WHERE agent_id=? AND status IN ${ACTIVE} ORDER BY created_at`, agentId);
  }

  /** Which of `ids` are active, unexpired leases. */
  async activeLeaseIds(ids: string[]): Promise<string[]> {
    const now = Date.now();
    return ids.filter((id) => {
      const l = this.#db.lease(id);
      return !!l && ACTIVE_STATUSES.includes(l.status) && l.expires_at > now;
    });
  }

  /** Extends a lease to now + ttlS. */
  async renew(leaseId: string, agentId: string, ttlS?: number): Promise<LeaseLookup> {
    const found = await this.lookup(leaseId, agentId);
    if (!found.ok) return found;
    const expires = Date.now() + (ttlS ?? this.settings().ttlS) * 1000;
    this.#sql.exec(`UPDATE leases SET expires_at=? WHERE id=?`, expires, leaseId);
    this.#emit(leaseId, 'renew');
    await this.#arm(Date.now());
    return { ok: true, lease: { ...found.lease, expires_at: expires } };
  }

  /**
   * Ends a lease: the sandbox is scrubbed and returned to the pool, or terminated. `op` names why
   * (history); with `failure` (what its owner reads) the lease ends in error.
   */
  async release(leaseId: string, agentId: string, op = 'release', error?: string, failure?: { code: string; message: string }): Promise<LeaseLookup> {
    const lease = this.#db.lease(leaseId);
    if (!lease || lease.agent_id !== agentId) return { ok: false, reason: 'not_found' };
    if (lease.status === 'terminated' || lease.status === 'expired' || lease.status === 'error') return { ok: false, reason: lease.status, lease };
    if (failure) this.#sql.exec(`UPDATE leases SET failure=? WHERE id=?`, JSON.stringify(failure), leaseId);
    this.#transition(leaseId, failure ? 'error' : 'terminated', op, error);
    this.#log.info('lease_released', { lease: leaseId, agent: agentId, op });
    await this.#returnMember(lease, 'released');
    return { ok: true, lease: { ...lease, status: failure ? 'error' : 'terminated' } };
  }

  /** Reports that a lease's sandbox is unusable: the lease is marked error and the sandbox replaced. */
  async reportBroken(leaseId: string, reason: string): Promise<void> {
    this.#db.inc('health_failures_total{where="lease"}');
    await this.markFailed(leaseId, reason, 'sandbox is gone');
  }

  /** Gauges and counters for /metrics and tests. */
  async stats(): Promise<PoolStats> {
    await this.#ensureAlarm();
    return { ...this.#db.snapshot(), waiters: this.#waiters.length, settings: this.settings(), projection_backlog: this.#history.pending() };
  }

  /** Health sweep (cron, every 5 min): replaces dead idle members, fails leases whose sandbox died. */
  async healthCheck(): Promise<{ checked: number; dead: number }> {
    const members = this.#db.members().filter((m) => m.state === 'idle' || m.state === 'leased');
    let dead = 0;
    await Promise.all(
      members.map(async (m) => {
        const alive = await isAlive(this.#p, m.sandbox_id).catch(() => true);
        if (alive) return;
        dead++;
        this.#db.inc('health_failures_total{where="sweep"}');
        const l = m.lease_id ? this.#db.lease(m.lease_id) : null;
        if (l && ACTIVE_STATUSES.includes(l.status)) this.#transition(l.id, 'error', 'health_check', 'sandbox died');
        await this.#terminate(m.sandbox_id, 'health');
      }),
    );
    await this.#maintain(Date.now());
    return { checked: members.length, dead };
  }

  /** Cleanup sweep (cron, every 10 min): expires overdue leases and kills provider sandboxes this pool does not know. */
  async cleanup(): Promise<{ expired: number; orphans: number }> {
    const now = Date.now();
    const overdue = this.#db.overdueLeases(now);
    await this.#expireLeases(overdue);
    const known = new Set(this.#db.members().map((m) => m.sandbox_id));
    const listed = await listSandboxIds(this.#p, { service: 'git-sandbox', pool: this.#poolName() }).catch(() => []);
    const orphans = listed.filter((id) => !known.has(id));
    await Promise.all(orphans.map((id) => killSandbox(this.#p, id).catch(() => false)));
    for (const _ of orphans) this.#db.inc('terminations_total{reason="orphan"}');
    // Purge lease records older than a week; Postgres keeps the history. Outbox rows of a purged
    // lease have nothing left to project.
    this.#sql.exec(`DELETE FROM leases WHERE status NOT IN ${ACTIVE} AND expires_at < ?`, now - 7 * 86_400_000);
    this.#history.dropOrphans();
    return { expired: overdue.length, orphans: orphans.length };
  }

  /** Runs maintenance now (pre-warm); tests and operators use it to skip waiting for the alarm. */
  async warm(): Promise<PoolStats> {
    await this.#maintain(Date.now());
    return this.stats();
  }

  /** The one alarm: expires leases, retires and trims idle members, refills the pool, re-arms. */
  async alarm(): Promise<void> {
    // The alarm that fired is no longer set; #maintain arms the next one.
    this.#alarmAt = null;
    await this.#maintain(Date.now());
  }

  async #maintain(now: number): Promise<void> {
    const s = this.settings();
    await this.project();
    this.#db.pruneDemand(now, DEMAND_WINDOW_MS, DEMAND_BUCKET_MS);
    await this.#expireLeases(this.#db.overdueLeases(now));
    for (const m of this.#db.members().filter((x) => x.state === 'scrubbing' && !this.#scrubs.has(x.sandbox_id))) await this.#terminate(m.sandbox_id, 'scrub_lost');
    const idle = this.#db.members().filter((m) => m.state === 'idle');
    const retiring = this.#db.draining() ? idle : idle.filter((m) => m.retire_at <= now);
    const keep = idle.filter((m) => m.retire_at > now).sort((a, b) => b.created_at - a.created_at);
    // Demand sizing: members beyond the target that have sat idle a while are let go (quiet hours pay
    // for POOL_MIN only); members beyond POOL_MAX always are.
    const target = this.#idleTarget(now);
    const overTarget = keep.slice(target).filter((m) => m.idle_since != null && now - m.idle_since > IDLE_GRACE_MS);
    const surplus = [...new Set([...keep.slice(s.poolMax), ...overTarget])];
    await Promise.all([...retiring, ...surplus].map((m) => this.#terminate(m.sandbox_id, retiring.includes(m) ? 'retired' : 'surplus')));
    const n = this.#db.draining() ? 0 : refillCount(this.#db.warmCount(), this.#db.total(), target, s.maxSandboxes);
    await Promise.all(Array.from({ length: n }, () => this.#createMember('pooled', s, false)));
    await this.#pump();
    await this.#fresh.refreshIdle(now, s);
    await this.#arm(now);
  }

  /** Idle members to keep now, from recent demand, bounded by POOL_MIN and POOL_MAX. */
  #idleTarget(now: number): number {
    const s = this.settings();
    return demandTarget({ peakActive: this.#db.peakActive(now, DEMAND_WINDOW_MS, DEMAND_BUCKET_MS), activeNow: this.#db.activeAgentLeases() }, s.poolMin, s.poolMax);
  }

  /** Records the tip of a repo + branch the service has just seen (its own landing moved it, say). */
  async noteTip(repoKey: string, branch: string, repoUrl: string, sha: string): Promise<void> {
    this.#fresh.seeTip(repoKey, branch, repoUrl, sha, Date.now());
    this.ctx.waitUntil(this.#fresh.refreshIdle(Date.now(), this.settings()));
  }

  // The stored alarm time as this object last set or read it (undefined: not read in this
  // incarnation). Only this object sets its alarm, so grants compare against memory, not storage.
  #alarmAt: number | null | undefined = undefined;

  async #getAlarm(): Promise<number | null> {
    if (this.#alarmAt === undefined) {
      const stored = await this.ctx.storage.getAlarm();
      // A #setAlarm during that read is newer than what was read.
      if (this.#alarmAt === undefined) this.#alarmAt = stored;
    }
    return this.#alarmAt;
  }

  async #setAlarm(at: number): Promise<void> {
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  async #ensureAlarm(): Promise<void> {
    if ((await this.#getAlarm()) === null) await this.#setAlarm(Date.now() + 10);
  }

  /** Re-arms the alarm from stored deadlines (next lease expiry, next retirement, periodic tick). */
  async #arm(now: number): Promise<void> {
    const s = this.settings();
    const nextLease = this.#db.one(`SELECT coalesce(min(expires_at), 0) AS n FROM leases WHERE status IN ${ACTIVE}`);
    const nextRetire = this.#db.one(`SELECT coalesce(min(retire_at), 0) AS n FROM members WHERE state='idle'`);
    const candidates = [now + 5 * 60_000, nextLease || Infinity, nextRetire || Infinity];
    if (this.#db.warmCount() < this.#idleTarget(now) && !this.#db.draining()) candidates.push(now + 2000);
    // While demand is above POOL_MIN, look again when its window may have moved on.
    else if (this.#idleTarget(now) > s.poolMin) candidates.push(now + DEMAND_BUCKET_MS);
    // A projection that failed (database down) is retried soon.
    if (this.#history.pending() > 0) candidates.push(now + 5000);
    await this.#setAlarm(Math.max(now + 10, Math.min(...candidates)));
  }

  /** Expires leases (one history write for all of them) and returns their sandboxes. */
  async #expireLeases(leases: LeaseRecord[]): Promise<void> {
    // Invariant: only an active lease can expire; every status flips before the first await.
    const expired = leases.map((l) => this.#db.lease(l.id)).filter((l): l is LeaseRecord => !!l && ACTIVE_STATUSES.includes(l.status));
    for (const l of expired) {
      this.#transition(l.id, 'expired', 'expire');
      this.#db.inc('leases_expired_total');
      this.#log.info('lease_expired', { lease: l.id, agent: l.agent_id, expires_at: l.expires_at });
    }
    if (!expired.length) return;
    for (const l of expired) await this.#returnMember(l, 'expired');
  }

  /** Scrub + health check → idle, else terminate; direct mode and REUSE_POLICY=discard terminate. */
  async #returnMember(lease: LeaseRecord, why: string): Promise<void> {
    const s = this.settings();
    const m = this.#db.member(lease.sandbox_id);
    if (!m || m.lease_id !== lease.id) return;
    const draining = this.#db.draining();
    if (m.mode === 'direct' || s.reusePolicy === 'discard' || m.retire_at <= Date.now() || draining) {
      await this.#terminate(m.sandbox_id, m.mode === 'direct' ? 'direct_release' : why === 'expired' ? 'expired' : draining ? 'drain' : 'discard');
      await this.#pump();
      return;
    }
    this.#sql.exec(`UPDATE members SET state='scrubbing', lease_id=NULL WHERE sandbox_id=?`, m.sandbox_id);
    // The caller (a DELETE, an expiry) does not wait for the scrub; the member turns idle when it is done.
    const done = this.#scrubAndReturn(m.sandbox_id, s).finally(() => this.#scrubs.delete(m.sandbox_id));
    this.#scrubs.set(m.sandbox_id, done);
    this.ctx.waitUntil(done);
    await this.#refillSoon();
  }

  /** Waits for every scrub in flight (tests, graceful operations). */
  async drain(): Promise<void> {
    await Promise.all([...this.#scrubs.values()]);
  }

  // Operator controls (admin API): drain, resume, and the listing of every active lease.

  /** Stops granting leases (the lander excepted), answers waiters, terminates idle members; `force` also ends active leases. */
  async drainPool(force = false): Promise<DrainReport> {
    this.#db.setDraining(true);
    // Queued requests get the answer a new request would get.
    for (let w = this.#waiters.take(); w; w = this.#waiters.take()) w.resolve(this.#drainingRefusal());
    const idle = this.#db.members().filter((m) => m.state === 'idle');
    const ended = force ? this.#db.rows<LeaseRecord>(`SELECT * FROM leases WHERE status IN ${ACTIVE}`) : [];
    // Invariant: every forced status flips before the first await, so no request sees a half-ended set.
    for (const l of ended) this.#transition(l.id, 'terminated', 'drain');
    await Promise.all(idle.map((m) => this.#terminate(m.sandbox_id, 'drain')));
    for (const l of ended) await this.#returnMember(l, 'drained');
    const report: DrainReport = { draining: true, force, idle_terminated: idle.length, leases_ended: ended.length, leases_active: this.#db.one(`SELECT count(*) AS n FROM leases WHERE status IN ${ACTIVE}`) };
    this.#log.warn('pool_draining', { ...report });
    await this.#arm(Date.now());
    return report;
  }

  /** Ends a drain: leases are granted again and the alarm refills the pool. */
  async resumePool(): Promise<{ draining: false }> {
    this.#db.setDraining(false);
    this.#log.warn('pool_resumed', {});
    await this.#arm(Date.now());
    return { draining: false };
  }

  /** One page of every agent's active leases, oldest first, after the (created_at, id) cursor. */
  async activeLeases(limit: number, after?: { createdAt: number; id: string }): Promise<LeaseRecord[]> {
    return this.#db.activeLeasePage(limit, after);
  }

  #drainingRefusal(): AcquireResult {
    this.#db.inc('lease_rejections_total{reason="draining"}');
    return { ok: false, reason: 'draining', message: 'the pool is draining for maintenance: no new leases until an operator resumes it', retryAfterS: 30 };
  }

  async #scrubAndReturn(sandboxId: string, s: PoolSettings): Promise<void> {
    const t0 = Date.now();
    const m = this.#db.member(sandboxId);
    if (!m) return;
    const repo = m.repo_url && m.repo_key && m.base_branch ? { key: m.repo_key, url: m.repo_url, branch: m.base_branch } : null;
    // The sandbox calls run in one of the pool's MemberScrubbers; this object only waits for the outcome.
    const scrubber = this.env.MEMBER_SCRUBBER.get(this.env.MEMBER_SCRUBBER.idFromName(`${this.#poolName()}:${bucketOf(sandboxId) % SCRUBBERS}`));
    const out = await scrubber
      .scrub({ sandboxId, timeoutMs: idleTimeoutMs(s), pool: this.#poolName(), repo })
      .catch((e: unknown): ScrubOutcome => ({ clean: false, base: null, tip: null, error: String(e) }));
    if (out.tip && repo) this.#fresh.seeTip(repo.key, repo.branch, repo.url, out.tip.sha, out.tip.at);
    // Invariant: only a member still scrubbing takes the outcome (a drain may have terminated it meanwhile).
    if (this.#db.member(sandboxId)?.state !== 'scrubbing') return;
    if (out.clean) {
      this.#sql.exec(`UPDATE members SET state='idle', base_commit=? WHERE sandbox_id=?`, out.base, sandboxId);
      // A clone the scrub could not rebuild at the tip was removed: the member is blank now.
      if (!out.base) this.#sql.exec(`UPDATE members SET repo_key=NULL, repo_url=NULL, base_branch=NULL WHERE sandbox_id=?`, sandboxId);
      this.#db.enterIdle(sandboxId, Date.now());
      this.#db.inc('returns_total{result="reused"}');
      this.#log.info('scrub_ok', { sandbox: sandboxId, duration_ms: Date.now() - t0 });
    } else {
      this.#log.warn('scrub_failed', { sandbox: sandboxId, duration_ms: Date.now() - t0, error: out.error ?? 'unhealthy after the scrub' });
      this.#db.inc('health_failures_total{where="return"}');
      await this.#terminate(sandboxId, 'unhealthy');
    }
    await this.#pump();
  }

  /** Serves waiting callers in FIFO order while idle members or capacity exist. */
  async #pump(): Promise<void> {
    const s = this.settings();
    while (this.#waiters.length) {
      if (!this.#db.hasIdlePooled() && this.#db.total() >= s.maxSandboxes) return;
      const w = this.#waiters.take()!;
      const r = await this.#tryServe(w.req, s, w.enqueuedAt, 0);
      if (!r) return this.#waiters.putBack(w);
      w.resolve(r);
    }
  }

  async #createMember(mode: 'pooled' | 'direct', s: PoolSettings, forLease: boolean): Promise<{ ok: true; sandboxId: string; home: string } | { ok: false; message: string }> {
    const placeholder = randomId('pending');
    const now = Date.now();
    // Invariant: capacity is claimed (a 'creating' row) before the first await.
    this.#sql.exec(
      `INSERT INTO members(sandbox_id,state,repo_key,home,created_at,retire_at,lease_id,mode) VALUES(?,?,?,?,?,?,?,?)`,
      placeholder, 'creating', null, null, now, retireAt(now, s.idleMaxAgeS, Math.random()), null, mode,
    );
    try {
      await this.#creates.take(s.createPerSec);
      const t0 = Date.now();
      const id = await createSandbox(this.#p, idleTimeoutMs(s), { service: 'git-sandbox', pool: this.#poolName(), mode });
      const home = await setupSandbox(this.#p, id, idleTimeoutMs(s)).catch(async (e) => {
        await killSandbox(this.#p, id).catch(() => false);
        throw e;
      });
      const warmRepo = forLease || mode !== 'pooled' ? null : this.#prewarmChoice(s, placeholder);
      let repoKey: string | null = null;
      if (warmRepo) {
        const cfg = parseConfig(this.env);
        const authorization = await gatewayAuthorization(cfg.ERROR_ENCRYPTION_KEY, principalUser(placeholder, this.#poolName()));
        const ok = await precloneSandbox(this.#p, id, idleTimeoutMs(s), { gatewayUrl: gatewayRepoUrl(cfg.PUBLIC_URL, warmRepo.key), branch: warmRepo.branch }, authorization).catch(() => false);
        if (ok) repoKey = warmRepo.key;
        else this.#log.warn('preclone_failed', { sandbox: id, repo: warmRepo.key });
      }
      this.#sql.exec(
        `UPDATE members SET sandbox_id=?, state=?, home=?, repo_key=?, repo_url=?, base_branch=? WHERE sandbox_id=?`,
        id, forLease ? 'leased' : 'idle', home, repoKey, repoKey ? warmRepo!.url : null, repoKey ? warmRepo!.branch : null, placeholder,
      );
      this.#db.enterIdle(id, Date.now());
      this.#db.inc(`creates_total{mode="${mode}"}`);
      this.#db.observe('create_seconds', (Date.now() - t0) / 1000);
      this.#log.info('member_created', { sandbox: id, mode, for_lease: forLease, repo: repoKey, duration_ms: Date.now() - t0 });
      if (!forLease) await this.#pump();
      return { ok: true, sandboxId: id, home };
    } catch (e) {
      this.#sql.exec(`DELETE FROM members WHERE sandbox_id=?`, placeholder);
      this.#db.inc('create_failures_total');
      this.#log.warn('create_failed', { error: String(e instanceof Error ? e.message : e) });
      return { ok: false, message: 'the sandbox provider could not create a sandbox' };
    }
  }

  /** The PREWARM_REPOS entry to clone into a new member, claimed on its placeholder row. */
  #prewarmChoice(s: PoolSettings, placeholder: string): PoolSettings['prewarmRepos'][number] | null {
    const pick = prewarmPick(s.prewarmRepos, this.#db.members());
    // Invariant: the choice is recorded before the clone's await, so concurrent refills spread out.
    if (pick) this.#sql.exec(`UPDATE members SET repo_key=? WHERE sandbox_id=?`, pick.key, placeholder);
    return pick;
  }

  async #terminate(sandboxId: string, reason: string): Promise<void> {
    const existed = this.#db.member(sandboxId);
    this.#db.leaveIdle(sandboxId, Date.now());
    this.#sql.exec(`DELETE FROM members WHERE sandbox_id=?`, sandboxId);
    if (!existed) return;
    this.#db.inc(`terminations_total{reason="${reason}"}`);
    this.#log.info('member_retired', { sandbox: sandboxId, reason, state: existed.state });
    await killSandbox(this.#p, sandboxId).catch((e) => this.#log.warn('kill_failed', { sandbox: sandboxId, error: String(e) }));
  }

  /** Changes a lease's status and appends the transition to the outbox, in one synchronous block. */
  #transition(leaseId: string, status: LeaseRecord['status'], op: string, error?: string): void {
    this.#sql.exec(`UPDATE leases SET status=? WHERE id=?`, status, leaseId);
    this.#emit(leaseId, op, error);
  }

  /** Appends a lease transition to the outbox and schedules its projection after this request. */
  #emit(leaseId: string, op: string, error?: string): void {
    this.#history.append(leaseId, op, error);
    this.ctx.waitUntil(this.#history.project());
  }

  /** Copies the pending lease history to Postgres now (cron, tests); returns rows copied. */
  async project(): Promise<number> {
    return this.#history.project();
  }

  #poolName(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  #shardIndex: number | null = null;

  /**
   * This coordinator's shard index, from its name (`global` 0, `global-s<i>` i; other pools 0). The
   * runtime may leave `ctx.id.name` unset in an alarm that wakes a cold instance, so the index is
   * kept in kv('shard') once the name was seen (every alarm is armed through settings(), hence here).
   */
  #shard(): number {
    if (this.#shardIndex !== null) return this.#shardIndex;
    const stored = this.#sql.exec(`SELECT value FROM kv WHERE key='shard'`).toArray()[0];
    const name = this.ctx.id.name;
    if (name === undefined) return stored ? Number(stored.value) : 0;
    const i = shardOfName(name);
    if (!stored || Number(stored.value) !== i) this.#sql.exec(`INSERT INTO kv(key,value) VALUES('shard',?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, String(i));
    this.#shardIndex = i;
    return i;
  }
}
