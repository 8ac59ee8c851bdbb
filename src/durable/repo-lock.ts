// RepoLock: one per repository + target branch. A FIFO lock with fencing tokens and a TTL, its
// whole state in SQLite. The lock saves wasted rebase cycles; git's ref CAS is what prevents loss.
import { DurableObject } from 'cloudflare:workers';
import { withDb } from '../db/client.ts';
import { recordOperation } from '../db/lease-rows.ts';
import { componentLogger } from '../lib/do-logger.ts';
import type { Logger } from '../lib/log.ts';
import { decideGrant } from '../lock/rules.ts';
import { LockStore, type AuditRow, type ClaimedEntry, type EntryOptions, type EntryResult, type LockEntry, type LockState } from '../lock/store.ts';
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
  /** The lease the holder acts for (recorded with the grant and in lock-expiry history). */
  leaseId?: string;
  repoUrl?: string;
  /** The caller's queued entry: the wait ends as soon as another holder completes it. */
  entryId?: string;
}

export type { ClaimedEntry, EntryOptions, EntryResult, LockEntry, LockState };

/** The lander recorded for a lock: its lease and, when known, its sandbox (connected before the lease is confirmed). */
export interface LanderRef {
  leaseId: string;
  sandboxId: string | null;
}

/** The largest landing bundle kept (base64 characters); a larger one is dropped and pushers fetch. */
const MAX_BUNDLE_CHARS = 262_144;

/** The per-repo push lock, and the queue of entries its holders land in batches. */
export class RepoLock extends DurableObject<Env> {
  #store: LockStore;
  #log: Logger;
  // Waiting acquires by queue seq: how to answer each, and its wait timer. The timer is cleared with
  // the answer: a DO may hold 10,000 active timeouts, and a busy lock's waiters are answered by a
  // grant long before their wait runs out (uncleared, 10 agents on one lock hit the limit in 20 s).
  #resolvers = new Map<number, { resolve: (r: LockAcquireResult) => void; timer: ReturnType<typeof setTimeout> }>();

  /** Answers a waiting acquire (clearing its timer); false when it had no waiter here. */
  #answer(seq: number, r: LockAcquireResult): boolean {
    const w = this.#resolvers.get(seq);
    if (!w) return false;
    clearTimeout(w.timer);
    this.#resolvers.delete(seq);
    w.resolve(r);
    return true;
  }
  #repoUrl: string | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new LockStore(ctx.storage.sql);
    this.#log = componentLogger(env, 'repo_lock');
    ctx.blockConcurrencyWhile(async () => {
      this.#store.migrate();
    });
  }

  /** Waits in FIFO order up to `waitMs` for the lock; the token fences every later call. */
  async acquire(holder: string, opts: LockAcquireOptions): Promise<LockAcquireResult> {
    this.#repoUrl ??= opts.repoUrl;
    const now = Date.now();
    if (opts.entryId && this.#entryDone(opts.entryId)) return { ok: false, reason: 'done', waitedMs: 0 };
    this.#expireIfDue(now);
    const st = this.#store.state();
    const leaseId = opts.leaseId ?? null;
    // Invariant: the lock is granted only when free and nobody queued ahead (checked and taken here).
    if (!st.holder && this.#store.waiterCount() === 0) {
      const granted = this.#grant({ holder, leaseId, ttlMs: opts.ttlMs, enqueuedAt: now, seq: 0 });
      await this.#arm(); // the alarm expires this holder if it never comes back
      return granted;
    }
    if (opts.waitMs <= 0) return this.#timeout(holder, now, this.#store.waiterCount() + 1);
    const seq = this.#store.addWaiter({ holder, leaseId, enqueuedAt: now, deadline: now + opts.waitMs, ttlMs: opts.ttlMs, entryId: opts.entryId ?? null });
    await this.#arm();
    return new Promise<LockAcquireResult>((resolve) => {
      const timer = setTimeout(() => {
        // Invariant: a waiter times out only if it is still queued (not granted meanwhile).
        if (!this.#store.waiter(seq)) return;
        const position = this.#store.position(seq);
        this.#store.deleteWaiter(seq);
        this.#answer(seq, this.#timeout(holder, now, position));
      }, opts.waitMs);
      this.#resolvers.set(seq, { resolve, timer });
    });
  }

  /** Releases the lock if `token` is the current one; a stale token is refused. */
  async release(token: number): Promise<{ ok: boolean; reason?: 'stale' }> {
    const st = this.#store.state();
    // Invariant: only the current token's holder can release.
    if (!st.holder || st.token !== token) return { ok: false, reason: 'stale' };
    this.#store.clearHolder();
    this.#audit('release', st.holder, token, Date.now() - st.granted_at);
    this.#grantNext(Date.now());
    await this.#arm();
    return { ok: true };
  }

  /** Extends the current holder's TTL; refused for a stale token. */
  async extend(token: number, ttlMs: number): Promise<{ ok: boolean; expiresAt?: number }> {
    const now = Date.now();
    this.#expireIfDue(now);
    const st = this.#store.state();
    if (!st.holder || st.token !== token) return { ok: false };
    const expiresAt = now + ttlMs;
    this.#store.setExpiry(expiresAt);
    await this.#arm();
    return { ok: true, expiresAt };
  }

  /** Queues an entry (its commits already parked on the remote) for the next batch, landing as `o.strategy` (rebase by default). */
  async enqueue(id: string, leaseId: string, agentId: string, o: EntryOptions = {}): Promise<void> {
    this.#store.addEntry(id, leaseId, agentId, Date.now(), o);
  }

  /** Claims up to `max` pending entries in queue order for the holder of `token`; none for a stale token. */
  async claim(token: number, max: number): Promise<ClaimedEntry[]> {
    const st = this.#store.state();
    // Invariant: only the current holder claims, and an entry is claimed by one holder at a time.
    if (!st.holder || st.token !== token || st.expires_at <= Date.now()) return [];
    return this.#store.claimPending(token, max);
  }

  /** claim, with the recorded lander (lease and sandbox) in the same answer, for the holder that lands the batch. */
  async claimBatch(token: number, max: number): Promise<{ entries: ClaimedEntry[]; lander: LanderRef | null }> {
    const entries = await this.claim(token, max);
    const leaseId = this.#store.kvGet('lander');
    const sandboxId = this.#store.kvGet('lander_sandbox');
    return { entries, lander: entries.length && leaseId ? { leaseId, sandboxId } : null };
  }

  /** Remembers the answer of an idempotent push (kept a day), so a replay gets the same answer. */
  async remember(key: string, body: string): Promise<void> {
    const now = Date.now();
    this.#store.remember(key, body, now);
    this.#store.purgeResults(now - 86_400_000);
  }

  /** The remembered answer of an idempotent push, if any. */
  async recall(key: string): Promise<string | null> {
    return this.#store.recall(key);
  }

  /** Which of `ids` are queued entries still waiting for or inside a landing. */
  async liveEntries(ids: string[]): Promise<string[]> {
    return ids.filter((id) => {
      const status = this.#store.entryStatus(id);
      return status === 'pending' || status === 'claimed';
    });
  }

  /** True (and recorded) when the current holder should sweep orphan queue refs: at most once per `everyMs`. */
  async sweepDue(token: number, everyMs: number): Promise<boolean> {
    const st = this.#store.state();
    if (!st.holder || st.token !== token) return false;
    const now = Date.now();
    const last = this.#store.kvGet('last_sweep');
    if (last !== null && now - Number(last) < everyMs) return false;
    this.#store.kvSet('last_sweep', String(now));
    return true;
  }

  /** The service-owned lander lease of this repo + base, if one was recorded. */
  async lander(): Promise<string | null> {
    return this.#store.kvGet('lander');
  }

  /** Records the lander lease (and its sandbox); only the current holder may, so two landers never race to set it. */
  async setLander(token: number, leaseId: string | null, sandboxId: string | null = null): Promise<boolean> {
    const st = this.#store.state();
    if (!st.holder || st.token !== token) return false;
    if (leaseId) this.#store.kvSet('lander', leaseId);
    else this.#store.kvDelete('lander');
    if (leaseId && sandboxId) this.#store.kvSet('lander_sandbox', sandboxId);
    else this.#store.kvDelete('lander_sandbox');
    return true;
  }

  /**
   * Records a batch's outcomes and the bundle of its landed objects (base64, kept ten minutes for
   * the pushers to sync from); refused (false) when `token` is no longer the holder's.
   */
  async complete(token: number, results: EntryResult[], bundle: string | null = null): Promise<boolean> {
    const st = this.#store.state();
    if (!st.holder || st.token !== token) return false;
    const now = Date.now();
    this.#store.settle(token, results, now);
    if (bundle && bundle.length <= MAX_BUNDLE_CHARS) this.#store.keepBundle(token, bundle, now);
    this.#store.purgeBundles(now - 600_000);
    this.#count(landingBatch(results));
    this.#log.info('landing_batch', { lock: this.ctx.id.name, token, size: results.length, ...landingOutcomes(results) });
    this.#store.purgeEntries(now - 3_600_000);
    // Waiters whose entries this batch settled leave the queue now instead of taking the lock in turn.
    const settled = new Set(results.map((r) => r.id));
    for (const w of this.#store.entryWaiters()) {
      if (!w.entryId || !settled.has(w.entryId)) continue;
      this.#store.deleteWaiter(w.seq);
      this.#answer(w.seq, { ok: false, reason: 'done', waitedMs: now - w.enqueuedAt });
    }
    await this.#arm();
    return true;
  }

  /** Returns claimed entries of `token` to the queue (a failed batch, retried by the next holder). */
  async unclaim(token: number): Promise<void> {
    this.#store.unclaim(token);
  }

  /** Withdraws a still-pending entry; false when a lander already has it or it is done. */
  async cancel(id: string): Promise<boolean> {
    // Invariant: only an entry no lander has claimed can be withdrawn.
    if (this.#store.entryStatus(id) !== 'pending') return false;
    this.#store.cancelEntry(id, Date.now());
    return true;
  }

  /** An entry's state. */
  async entry(id: string): Promise<LockEntry | null> {
    return this.#store.entry(id);
  }

  /** Current holder, token, expiry and queue length. */
  async inspect(): Promise<LockState & { waiters: number }> {
    return { ...this.#store.state(), waiters: this.#store.waiterCount() };
  }

  /** The most recent audit rows (acquire, release, expire, timeout). */
  async audit(limit = 100): Promise<AuditRow[]> {
    return this.#store.recentAudit(limit);
  }

  /** Expires a dead holder, drops abandoned waiters, grants the next one; safe to run twice or late. */
  async alarm(): Promise<void> {
    const now = Date.now();
    const expired = this.#expireIfDue(now);
    for (const w of this.#store.waitersDue(now)) {
      if (this.#resolvers.has(w.seq)) continue; // its own timer answers it
      this.#store.deleteWaiter(w.seq);
      this.#audit('timeout', w.holder, null, now - w.enqueuedAt);
    }
    this.#grantNext(now);
    await this.#arm();
    if (expired) await this.#recordExpiry(expired);
  }

  /** Gives the lock to `w` (a queued waiter when `seq` is set) with the next fencing token. */
  #grant(w: { holder: string; leaseId: string | null; ttlMs: number; enqueuedAt: number; seq: number }): LockAcquireResult {
    const now = Date.now();
    const token = this.#store.state().token + 1;
    const expiresAt = now + w.ttlMs;
    this.#store.setHolder({ holder: w.holder, leaseId: w.leaseId, token, expiresAt, grantedAt: now, ttlMs: w.ttlMs });
    if (w.seq) this.#store.deleteWaiter(w.seq);
    this.#audit('acquire', w.holder, token, now - w.enqueuedAt);
    this.#count(lockGranted(now - w.enqueuedAt));
    // The audit keeps about the newest 1000 rows, trimmed every 100th grant rather than on every write.
    if (token % 100 === 0) this.#store.trimAudit(1000);
    return { ok: true, token, waitedMs: now - w.enqueuedAt, expiresAt };
  }

  /** Hands a free lock to the first live waiter. */
  #grantNext(now: number): void {
    if (this.#store.state().holder) return;
    for (;;) {
      const w = this.#store.firstWaiter();
      if (!w) return;
      const waiting = this.#resolvers.has(w.seq);
      const decision = decideGrant({ hasResolver: waiting, deadline: w.deadline, now });
      if (decision !== 'grant' || !waiting) {
        this.#store.deleteWaiter(w.seq);
        // A waiter whose deadline passed before its timer ran is answered now (its timer would find
        // it gone and leave the call hanging); one with nobody waiting here is only recorded.
        if (waiting) this.#answer(w.seq, this.#timeout(w.holder, w.enqueuedAt, 1));
        else this.#audit('timeout', w.holder, null, now - w.enqueuedAt);
        continue;
      }
      this.#answer(w.seq, this.#grant({ holder: w.holder, leaseId: w.leaseId, ttlMs: w.ttlMs, enqueuedAt: w.enqueuedAt, seq: w.seq }));
      return;
    }
  }

  /** Clears an expired holder; returns what expired. */
  #expireIfDue(now: number): { leaseId: string | null; token: number } | null {
    const st = this.#store.state();
    if (!st.holder || st.expires_at > now) return null;
    this.#store.clearHolder();
    // A dead lander's claimed entries go back to the queue for the next holder.
    this.#store.unclaim(st.token);
    this.#audit('expire', st.holder, st.token, now - st.granted_at);
    this.#log.warn('lock_expired', { lock: this.ctx.id.name, holder: st.holder, token: st.token, held_ms: now - st.granted_at });
    this.#count({ lock_expiries_total: 1 });
    this.#grantNext(now);
    return { leaseId: st.lease_id, token: st.token };
  }

  async #recordExpiry(e: { leaseId: string | null; token: number }): Promise<void> {
    try {
      await withDb(this.env, (db) =>
        recordOperation(this.env, db, { op: 'lock_expire', repoUrl: this.#repoUrl, leaseId: e.leaseId ?? undefined, startedAt: Date.now(), durationMs: 0, result: 'expired', detail: { token: e.token, lock: this.ctx.id.name } }),
      );
    } catch (err) {
      this.#log.warn('audit_write_failed', { error: String(err) });
    }
  }

  #timeout(holder: string, enqueuedAt: number, position: number): LockAcquireResult {
    const now = Date.now();
    const st = this.#store.state();
    this.#audit('timeout', holder, null, now - enqueuedAt);
    this.#count({ lock_timeouts_total: 1 });
    const retryAfterS = Math.max(1, Math.ceil((Math.max(st.expires_at - now, 0) + position * 1000) / 1000));
    return { ok: false, reason: 'timeout', waitedMs: now - enqueuedAt, position, retryAfterS, holder: st.holder };
  }

  async #arm(): Promise<void> {
    const st = this.#store.state();
    const d = this.#store.nextDeadline();
    const candidates = [st.holder ? st.expires_at : 0, d].filter((x) => x > 0);
    if (candidates.length) await this.ctx.storage.setAlarm(Math.min(...candidates));
    else await this.ctx.storage.deleteAlarm();
  }

  #entryDone(id: string): boolean {
    const status = this.#store.entryStatus(id);
    return status !== null && status !== 'pending' && status !== 'claimed';
  }

  /** Forwards lock event counts to the MetricsHub (fire-and-forget; /metrics cannot enumerate locks). */
  #count(deltas: Deltas): void {
    reportDeltas(this.env, deltas, this.#log, (p) => this.ctx.waitUntil(p));
  }

  #audit(event: string, holder: string | null, token: number | null, waitMs: number | null): void {
    this.#store.audit(event, holder, token, waitMs, Date.now());
  }
}
