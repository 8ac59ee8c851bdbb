// Per-step wall times of one request (push, landing), logged as one JSON line so a benchmark can
// say where the time went. A step that runs more than once adds up.

/** Accumulates the milliseconds spent in named steps since the clock started. */
export class StepClock {
  readonly #start = Date.now();
  #last = this.#start;
  readonly #steps: Record<string, number> = {};

  /** Charges the time since the previous mark (or the start) to `step`. */
  mark(step: string): void {
    const now = Date.now();
    this.#steps[step] = (this.#steps[step] ?? 0) + (now - this.#last);
    this.#last = now;
  }

  /** Adds `ms` measured elsewhere (e.g. inside a sandbox script) to `step`, without moving the clock. */
  add(step: string, ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.#steps[step] = (this.#steps[step] ?? 0) + ms;
  }

  /** The steps so far, with `total_ms` since the start. */
  snapshot(): Record<string, number> {
    return { ...this.#steps, total_ms: Date.now() - this.#start };
  }
}
