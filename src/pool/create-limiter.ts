// Paces sandbox creations to CREATE_PER_SEC in a rolling second (the provider's creation limit).
import { createDelayMs } from './decide.ts';

/** Hands out creation slots; `take` waits until one is free. */
export class CreateLimiter {
  #recent: number[] = [];

  /** Waits for a free slot at `perSec` creations per second and claims it. */
  async take(perSec: number): Promise<void> {
    let delay = createDelayMs(this.#recent, perSec, Date.now());
    while (delay > 0) {
      await new Promise((r) => setTimeout(r, delay));
      delay = createDelayMs(this.#recent, perSec, Date.now());
    }
    this.#recent = [...this.#recent.filter((t) => t > Date.now() - 2000), Date.now()];
  }
}
