// The FIFO of callers waiting for a sandbox, answered from memory: each waiter has a deadline and
// is answered by the timeout function if nothing serves it first.

interface Waiter<Req, Res> {
  req: Req;
  enqueuedAt: number;
  deadline: number;
  resolve: (r: Res) => void;
  timer?: ReturnType<typeof setTimeout>;
}

/** A FIFO of pending requests with per-waiter deadlines. */
export class WaitQueue<Req, Res> {
  #items: Waiter<Req, Res>[] = [];
  #onTimeout: (w: { req: Req; enqueuedAt: number }) => Res;

  constructor(onTimeout: (w: { req: Req; enqueuedAt: number }) => Res) {
    this.#onTimeout = onTimeout;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Queues `req`; the promise settles when it is served or its deadline passes. */
  wait(req: Req, enqueuedAt: number, deadline: number): Promise<Res> {
    return new Promise<Res>((resolve) => this.#arm({ req, enqueuedAt, deadline, resolve }, false));
  }

  /** The head waiter, taken off the queue with its timer stopped (serve it, or putBack). */
  take(): Waiter<Req, Res> | undefined {
    const w = this.#items.shift();
    if (w) clearTimeout(w.timer);
    return w;
  }

  /** Returns a taken waiter to the head of the queue with what is left of its deadline. */
  putBack(w: Waiter<Req, Res>): void {
    this.#arm(w, true);
  }

  #arm(w: Waiter<Req, Res>, head: boolean): void {
    w.timer = setTimeout(() => {
      this.#items = this.#items.filter((x) => x !== w);
      w.resolve(this.#onTimeout(w));
    }, Math.max(0, w.deadline - Date.now()));
    if (head) this.#items.unshift(w);
    else this.#items.push(w);
  }
}
