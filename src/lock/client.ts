// The RepoLock as the push workflow sees it: the lock of one repo + branch, spoken to for one lease.
// It names holders, queue entries and remembered answers; lease and agent ids are passed explicitly.
import type { LanderRef, LockAcquireResult, RepoLock } from '../durable/repo-lock.ts';
import { sha256Hex } from '../lib/crypto.ts';
import { entryIdFor, lockName } from './rules.ts';
import type { ClaimedEntry, EntryOptions, EntryResult, LockEntry } from './store.ts';

export type { ClaimedEntry, EntryOptions, EntryResult, LanderRef, LockAcquireResult, LockEntry };

/** The lease a client acts for. */
export interface LockLease {
  id: string;
  agentId: string;
  repoKey: string;
  repoUrl: string;
}

/** Options of one acquisition. */
export interface AcquireOptions {
  ttlMs: number;
  waitMs: number;
  /** The caller's queued entry: the wait ends as soon as another holder settles it. */
  entryId?: string;
}

/** A running heartbeat; stop it before releasing. */
export interface Heartbeat {
  stop(): void;
}

/** The RepoLock of one repo + branch, used on behalf of one lease. */
export class LockClient {
  readonly #stub: DurableObjectStub<RepoLock>;
  readonly #lease: LockLease;

  constructor(stub: DurableObjectStub<RepoLock>, lease: LockLease) {
    this.#stub = stub;
    this.#lease = lease;
  }

  /** The client of the lock of `lease`'s repo and `branch`. */
  static of(ns: DurableObjectNamespace<RepoLock>, lease: LockLease, branch: string): LockClient {
    return new LockClient(ns.get(ns.idFromName(lockName(lease.repoKey, branch))), lease);
  }

  /** Waits in FIFO order for the lock as a new holder of this lease. */
  acquire(o: AcquireOptions): Promise<LockAcquireResult> {
    const holder = `${this.#lease.id}:${crypto.randomUUID().slice(0, 8)}`;
    return this.#stub.acquire(holder, { ttlMs: o.ttlMs, waitMs: o.waitMs, leaseId: this.#lease.id, repoUrl: this.#lease.repoUrl, entryId: o.entryId });
  }

  /** Releases the lock held with `token` (a stale token is refused quietly). */
  async release(token: number): Promise<boolean> {
    return (await this.#stub.release(token)).ok;
  }

  /** Extends the lock held with `token` by `ttlMs` from now. */
  async extend(token: number, ttlMs: number): Promise<boolean> {
    return (await this.#stub.extend(token, ttlMs)).ok;
  }

  /** Extends the lock every third of `ttlMs` until stopped, so a crashed holder frees it within one TTL. */
  heartbeat(token: number, ttlMs: number): Heartbeat {
    const timer = setInterval(() => {
      this.#stub.extend(token, ttlMs).catch(() => undefined);
    }, Math.max(500, Math.floor(ttlMs / 3)));
    return { stop: () => clearInterval(timer) };
  }

  /** A new entry id of this lease: from the push's idempotency key when it has one (a replay gets the same id). */
  async newEntryId(idempotencyKey?: string): Promise<string> {
    const suffix = idempotencyKey ? (await this.#replayKey(idempotencyKey)).slice(-16) : crypto.randomUUID().slice(0, 8);
    return entryIdFor(this.#lease.id, suffix);
  }

  /** Queues `entryId` (its commits already parked on its queue ref) as this lease's and agent's, landing as `o.strategy`. */
  enqueue(entryId: string, o: EntryOptions = {}): Promise<void> {
    return this.#stub.enqueue(entryId, this.#lease.id, this.#lease.agentId, o);
  }

  /** An entry's state, or null when the lock does not know it. */
  entry(entryId: string): Promise<LockEntry | null> {
    return this.#stub.entry(entryId);
  }

  /** Withdraws a still-pending entry; false when a lander already has it or it is settled. */
  cancel(entryId: string): Promise<boolean> {
    return this.#stub.cancel(entryId);
  }

  /** Claims up to `max` pending entries for the holder of `token`. */
  claim(token: number, max: number): Promise<ClaimedEntry[]> {
    return this.#stub.claim(token, max);
  }

  /** Claims up to `max` pending entries and reads the recorded lander in one round trip. */
  claimBatch(token: number, max: number): Promise<{ entries: ClaimedEntry[]; lander: LanderRef | null }> {
    return this.#stub.claimBatch(token, max);
  }

  /** Records a landing's outcomes and the bundle of its objects; false when `token` no longer holds the lock. */
  complete(token: number, results: EntryResult[], bundle: string | null = null): Promise<boolean> {
    return this.#stub.complete(token, results, bundle);
  }

  /** Returns the entries `token` claimed to the queue. */
  unclaim(token: number): Promise<void> {
    return this.#stub.unclaim(token);
  }

  /** Which of `entryIds` still wait for or are inside a landing. */
  liveEntries(entryIds: string[]): Promise<string[]> {
    return this.#stub.liveEntries(entryIds);
  }

  /** Whether the holder of `token` should sweep orphan queue refs now (at most once per `everyMs`). */
  sweepDue(token: number, everyMs: number): Promise<boolean> {
    return this.#stub.sweepDue(token, everyMs);
  }

  /** The lander lease recorded for this lock, if any. */
  lander(): Promise<string | null> {
    return this.#stub.lander();
  }

  /** Records (or with null forgets) the lander lease and its sandbox; only the holder of `token` may. */
  setLander(token: number, leaseId: string | null, sandboxId: string | null = null): Promise<boolean> {
    return this.#stub.setLander(token, leaseId, sandboxId);
  }

  /** The first answer (parsed JSON) of this lease's push with `idempotencyKey`, or null. */
  async recall(idempotencyKey: string): Promise<unknown> {
    const body = await this.#stub.recall(await this.#replayKey(idempotencyKey));
    return body === null ? null : JSON.parse(body);
  }

  /** Remembers the answer of this lease's push with `idempotencyKey` (the first one kept). */
  async remember(idempotencyKey: string, answer: unknown): Promise<void> {
    await this.#stub.remember(await this.#replayKey(idempotencyKey), JSON.stringify(answer));
  }

  /** The key an idempotent push of this lease is remembered under. */
  async #replayKey(idempotencyKey: string): Promise<string> {
    return `${this.#lease.id}:${await sha256Hex(idempotencyKey)}`;
  }
}
