// A database handle kept open between uses for a short while, for a Durable Object that writes
// often (the coordinator's projection): one connection carries many batches instead of one each.
import type { DbHandle } from './client.ts';

/** Options of LingeringDb: how to open a handle and how long an unused one stays open. */
export interface LingeringDbOptions {
  open(): DbHandle;
  lingerMs: number;
}

/** One handle at a time, opened on first use, closed `lingerMs` after the last use or at once after a failure. */
export class LingeringDb {
  #o: LingeringDbOptions;
  #h: DbHandle | null = null;
  #users = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(o: LingeringDbOptions) {
    this.#o = o;
  }

  /** Runs `fn` on the shared handle; a throw closes the handle so the next use opens a fresh one. */
  async use<T>(fn: (h: DbHandle) => Promise<T>): Promise<T> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const h = (this.#h ??= this.#o.open());
    this.#users++;
    try {
      return await fn(h);
    } catch (e) {
      if (this.#h === h) this.#h = null;
      await h.close();
      throw e;
    } finally {
      this.#users--;
      if (this.#users === 0 && this.#h) this.#timer = setTimeout(() => void this.close(), this.#o.lingerMs);
    }
  }

  /** Closes the handle now (the next use opens a new one). */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const h = this.#h;
    this.#h = null;
    await h?.close();
  }
}
