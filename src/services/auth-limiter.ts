// In-isolate guards in front of the API-key lookup: a sliding window of failures per client and per
// key, and a short cache of resolved keys. Each isolate counts on its own; a revoked key is forgotten
// at once by the revoking isolate, and honoured by another for at most KEY_CACHE_TTL_MS.

/** How long a key that resolved is trusted without asking the database again. */
export const KEY_CACHE_TTL_MS = 30_000;

/**
 * How long past its TTL a key this isolate resolved is still accepted while the database cannot be
 * asked (down, or too slow to connect under load): an agent can go on with (and release) its leases
 * through an outage. A revocation needs the database, and it also ends the agent's leases at once.
 */
export const KEY_STALE_IF_ERROR_MS = 300_000;

/** Most clients/keys tracked at once; the least recently seen are dropped beyond it. */
const MAX_ENTRIES = 10_000;

/** A limit: at most `limit` failures in any `windowMs`. */
export interface FailureLimit {
  limit: number;
  windowMs: number;
}

interface Window {
  start: number;
  current: number;
  previous: number;
}

/**
 * Failures per subject as a sliding window counter (the previous fixed window's count weighted by
 * its overlap with the sliding window, plus the current one's), so memory per subject is O(1).
 */
export class FailureWindow {
  #windows = new Map<string, Window>();

  /** The window of `subject` rolled forward to `now` (not stored). */
  #at(subject: string, now: number, windowMs: number): Window {
    const w = this.#windows.get(subject);
    if (!w) return { start: now - (now % windowMs), current: 0, previous: 0 };
    const start = now - (now % windowMs);
    if (start === w.start) return { ...w };
    return { start, current: 0, previous: start - w.start === windowMs ? w.current : 0 };
  }

  /** Estimated failures of `subject` in the window ending at `now`. */
  count(subject: string, now: number, l: FailureLimit): number {
    const w = this.#at(subject, now, l.windowMs);
    return w.previous * (1 - (now - w.start) / l.windowMs) + w.current;
  }

  /**
   * Milliseconds until `subject` is under its limit again (0 when it is under it now). The estimate
   * is rounded up: a part of a failure still counts (else failures split across a window boundary
   * would buy one more attempt, 20 counted as 19.9).
   */
  waitMs(subject: string, now: number, l: FailureLimit): number {
    const w = this.#at(subject, now, l.windowMs);
    const elapsed = now - w.start;
    const room = l.limit - 1;
    if (w.previous * (1 - elapsed / l.windowMs) + w.current <= room) return 0;
    // Still in this window: the previous window's weight must fall until the sum is under the limit.
    if (w.current <= room && w.previous > 0) {
      const need = l.windowMs * (1 - (room - w.current) / w.previous);
      if (need < l.windowMs) return Math.max(1, Math.ceil(need - elapsed) + 1);
    }
    // Next window: this window's count, now the previous one, must decay below the limit.
    const next = l.windowMs * (1 - room / Math.max(w.current, l.limit));
    return Math.max(1, Math.ceil(l.windowMs - elapsed + next) + 1);
  }

  /** Counts one failure for each subject. */
  record(subjects: string[], now: number, l: FailureLimit): void {
    for (const s of subjects) {
      const w = this.#at(s, now, l.windowMs);
      w.current++;
      this.#windows.delete(s);
      this.#windows.set(s, w);
    }
    while (this.#windows.size > MAX_ENTRIES) this.#windows.delete(this.#windows.keys().next().value!);
  }

  /** Forgets every count (tests). */
  clear(): void {
    this.#windows.clear();
  }
}

/**
 * Keys (by hash) that resolved to an agent, each trusted until its own deadline, and after it, while
 * the database cannot be asked, until its stale deadline (never past the key's own expiry).
 */
export class KeyCache {
  #entries = new Map<string, { agentId: string; until: number; staleUntil: number }>();

  /** The agent of a key hash resolved less than its TTL ago. */
  get(hash: string, now: number): string | undefined {
    const e = this.#entries.get(hash);
    if (!e) return undefined;
    if (e.staleUntil <= now) {
      this.#entries.delete(hash);
      return undefined;
    }
    return e.until > now ? e.agentId : undefined;
  }

  /** The agent of a key hash whose TTL ran out but whose stale deadline has not (the database is failing). */
  stale(hash: string, now: number): string | undefined {
    const e = this.#entries.get(hash);
    return e && e.staleUntil > now ? e.agentId : undefined;
  }

  /** Remembers a resolved key until `until`, and as a fallback while the database fails until `staleUntil`. */
  set(hash: string, agentId: string, until: number, staleUntil = until): void {
    this.#entries.delete(hash);
    this.#entries.set(hash, { agentId, until, staleUntil: Math.max(until, staleUntil) });
    while (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Forgets a key (revoked, rotated). */
  forget(hash: string): void {
    this.#entries.delete(hash);
  }
}

/** This isolate's failure counts. */
export const authFailures = new FailureWindow();

/** This isolate's resolved keys. */
export const keyCache = new KeyCache();

/** The subjects a failure counts against: the client address, and the key (by hash prefix) when there is one. */
export function failureSubjects(ip: string, keyHash: string | null): string[] {
  return keyHash ? [`ip:${ip}`, `key:${keyHash.slice(0, 16)}`] : [`ip:${ip}`];
}
