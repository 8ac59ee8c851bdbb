// Process spawning off the HTTP event loop: fork/exec blocks the calling thread until the child
// execs (milliseconds each under load), so children are started from a small worker-thread pool.
import { Worker } from 'node:worker_threads';
import { startChild, type ChildControl, type ChildEvent, type SpawnRequest } from './spawn-worker.ts';

export type { SpawnRequest } from './spawn-worker.ts';

/** Receives a child's output and lifecycle. */
export interface ChildListener {
  data(kind: 'stdout' | 'stderr', chunk: Buffer): void;
  exit(code: number | null, signal: string | null): void;
  close(code: number | null, signal: string | null): void;
}

/** A spawned child; events are queued until `attach` so nothing is lost between spawn and subscribe. */
export class ChildHandle {
  /** Host pid (and process group) of the spawned process. */
  readonly pid: number;
  /** The pid the sandbox sees (equal to `pid` without isolation). */
  readonly nsPid: number;
  exited = false;
  private readonly ctl: ChildControl;
  private listener: ChildListener | undefined;
  private queue: ChildEvent[] = [];

  constructor(pid: number, nsPid: number, ctl: ChildControl) { this.pid = pid; this.nsPid = nsPid; this.ctl = ctl; }

  attach(l: ChildListener): void {
    this.listener = l;
    for (const ev of this.queue.splice(0)) this.dispatch(ev);
  }

  deliver(ev: ChildEvent): void {
    if (ev.t === 'exit') this.exited = true;
    if (this.listener) this.dispatch(ev); else this.queue.push(ev);
  }

  private dispatch(ev: ChildEvent): void {
    const l = this.listener!;
    if (ev.t === 'data') l.data(ev.kind, Buffer.from(ev.chunk.buffer, ev.chunk.byteOffset, ev.chunk.byteLength));
    else if (ev.t === 'exit') l.exit(ev.code, ev.signal);
    else if (ev.t === 'close') l.close(ev.code, ev.signal);
  }

  write(data: Buffer): void { this.ctl.write(data); }
  endStdin(): void { this.ctl.end(); }
  destroyStdio(): void { this.ctl.destroyStdio(); }
  /** Writes to the child's control pipe (fd 4). */
  control(text: string): void { this.ctl.control(text); }
}

/** A child that did not start; `code: 'cwd'` when it could not enter its working directory. */
export class SpawnError extends Error {
  code: 'cwd' | undefined;
  constructor(message: string, code?: 'cwd') { super(message); this.code = code; }
}

interface Slot { worker: Worker; live: number }

/** Spawns children from `workers` worker threads (0 = on the calling thread). */
export class Spawner {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, { resolve: (h: ChildHandle) => void; reject: (e: Error) => void; slot: Slot }>();
  private readonly handles = new Map<number, { h: ChildHandle; slot: Slot }>();
  private nextId = 0;
  private readonly log: (line: string) => void;

  constructor(workers: number, log: (line: string) => void) {
    this.log = log;
    for (let i = 0; i < workers; i++) this.slots.push(this.newSlot());
  }

  private newSlot(): Slot {
    const worker = new Worker(new URL('./spawn-worker.ts', import.meta.url), { workerData: { e2bSpawnWorker: true } });
    const slot: Slot = { worker, live: 0 };
    worker.unref();
    worker.on('message', (m: { id: number; ev: ChildEvent }) => this.onEvent(slot, m.id, m.ev));
    worker.on('error', (err) => this.log(`spawn worker error: ${err.message}`));
    worker.on('exit', () => this.onWorkerExit(slot));
    return slot;
  }

  private onEvent(slot: Slot, id: number, ev: ChildEvent): void {
    if (ev.t === 'spawned') {
      const p = this.pending.get(id);
      this.pending.delete(id);
      const post = (op: string, data?: Uint8Array, text?: string) => slot.worker.postMessage({ op, id, data, text });
      const h = new ChildHandle(ev.pid, ev.nsPid, {
        write: (d) => post('write', new Uint8Array(d)), end: () => post('end'), destroyStdio: () => post('destroy'), control: (t) => post('control', undefined, t),
      });
      this.handles.set(id, { h, slot });
      p?.resolve(h);
      return;
    }
    if (ev.t === 'error') {
      slot.live--;
      this.pending.get(id)?.reject(new SpawnError(ev.message, ev.code));
      this.pending.delete(id);
      return;
    }
    const entry = this.handles.get(id);
    if (!entry) return;
    if (ev.t === 'close') { this.handles.delete(id); slot.live--; }
    entry.h.deliver(ev);
  }

  /** A dead worker loses its pipes: fail its spawns, close its children, replace it. */
  private onWorkerExit(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    for (const [id, p] of this.pending) if (p.slot === slot) { p.reject(new Error('spawn worker exited')); this.pending.delete(id); }
    for (const [id, e] of this.handles) {
      if (e.slot !== slot) continue;
      this.handles.delete(id);
      try { process.kill(-e.h.pid, 'SIGKILL'); } catch { /* gone */ }
      e.h.deliver({ t: 'exit', code: null, signal: 'SIGKILL' });
      e.h.deliver({ t: 'close', code: null, signal: 'SIGKILL' });
    }
    this.slots[i] = this.newSlot();
  }

  /** Starts a child; resolves once it has a pid. */
  spawn(req: SpawnRequest): Promise<ChildHandle> {
    if (this.slots.length === 0) return this.spawnHere(req);
    const slot = this.slots.reduce((a, b) => (b.live < a.live ? b : a));
    slot.live++;
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ op: 'spawn', id, req });
    });
  }

  private spawnHere(req: SpawnRequest): Promise<ChildHandle> {
    return new Promise((resolve, reject) => {
      let h: ChildHandle | undefined;
      let ctl: ChildControl | undefined;
      let started: { pid: number; nsPid: number } | undefined;
      const early: ChildEvent[] = [];
      const make = () => { if (!h && started && ctl) { h = new ChildHandle(started.pid, started.nsPid, ctl); for (const ev of early.splice(0)) h.deliver(ev); resolve(h); } };
      ctl = startChild(req, (ev) => {
        if (ev.t === 'spawned') { started = ev; make(); } else if (ev.t === 'error') reject(new SpawnError(ev.message, ev.code));
        else if (h) h.deliver(ev); else early.push(ev);
      });
      make();
    });
  }

  /** Stops the worker threads (children already spawned keep running; kill them first). */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
