// The set of live sandboxes: creation (latency, concurrency cap, injected failures), expiry at
// the deadline, kill, pause/resume (SIGSTOP/SIGCONT of the sandbox's process groups).
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from './http-util.ts';
import { ProcessTable } from './processes.ts';
import type { Spawner } from './spawner.ts';
import { Sandbox, newSandboxId } from './sandbox.ts';

/** Store configuration (mutable knobs are plain fields). */
export interface StoreOptions {
  root: string;
  defaultTimeoutS: number;
  maxSandboxes: number;
  createLatencyMs: number;
  log: (line: string) => void;
  spawner: Spawner;
}

/** Create parameters as decoded from `POST /v2/sandboxes`. */
export interface CreateParams { templateId: string; timeoutS?: number; metadata: Record<string, string>; envVars: Record<string, string> }

const MAX_TIMER_MS = 2_000_000_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Live sandboxes (running or paused); killed/expired ones are removed immediately. */
export class SandboxStore {
  readonly opts: StoreOptions;
  private readonly sandboxes = new Map<string, Sandbox>();
  private seq = 0;
  private pending = 0;
  private failNext = 0;
  private failStatus = 500;
  private readonly sweeper: NodeJS.Timeout;

  constructor(opts: StoreOptions) {
    this.opts = opts;
    this.sweeper = setInterval(() => { for (const s of this.sandboxes.values()) s.sweepGroups(); }, 10_000);
    this.sweeper.unref();
  }

  /** Makes the next `n` creates fail with `status` (provider outage). */
  failNextCreates(n: number, status = 500): void {
    this.failNext = Math.max(0, Math.floor(n));
    this.failStatus = status;
  }

  get size(): number { return this.sandboxes.size; }

  running(): number {
    let n = 0;
    for (const s of this.sandboxes.values()) if (s.state === 'running') n++;
    return n;
  }

  get(id: string): Sandbox | undefined { return this.sandboxes.get(id); }

  all(): Sandbox[] { return [...this.sandboxes.values()]; }

  private checkCapacity(): void {
    if (this.opts.maxSandboxes > 0 && this.running() + this.pending >= this.opts.maxSandboxes) {
      throw new HttpError(429, `Rate limit exceeded: you have reached the maximum number of concurrent sandboxes (${this.opts.maxSandboxes})`, { 'retry-after': '1' });
    }
  }

  /** Creates a sandbox after the configured latency; throws HttpError on injected failure or cap. */
  async create(p: CreateParams): Promise<Sandbox> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new HttpError(this.failStatus, 'injected create failure (local e2b host: fail-next-creates)');
    }
    this.checkCapacity();
    this.pending++;
    try {
      if (this.opts.createLatencyMs > 0) await sleep(this.opts.createLatencyMs);
      const id = newSandboxId();
      const sbx = new Sandbox({
        id, seq: ++this.seq, templateId: p.templateId, metadata: p.metadata, envVars: p.envVars,
        dir: path.join(this.opts.root, id), timeoutS: p.timeoutS ?? this.opts.defaultTimeoutS,
      });
      sbx.processes = new ProcessTable(sbx, this.opts.spawner);
      await mkdir(sbx.home, { recursive: true });
      await mkdir(sbx.tmp, { recursive: true });
      this.sandboxes.set(id, sbx);
      this.arm(sbx);
      this.opts.log(`sandbox ${id} created (template ${p.templateId}, timeout ${Math.round((sbx.endAt.getTime() - Date.now()) / 1000)}s)`);
      return sbx;
    } finally {
      this.pending--;
    }
  }

  /** (Re)arms the expiry timer at `endAt`. */
  private arm(sbx: Sandbox): void {
    clearTimeout(sbx.expiryTimer);
    sbx.expiryTimer = undefined;
    if (sbx.state !== 'running') return;
    const ms = sbx.endAt.getTime() - Date.now();
    if (ms <= 0) { void this.terminate(sbx, 'expired'); return; }
    sbx.expiryTimer = setTimeout(() => this.arm(sbx), Math.min(ms, MAX_TIMER_MS));
    sbx.expiryTimer.unref();
  }

  /** Sets the deadline to now + seconds (the SDK's `setTimeout` semantics). */
  setTimeout(sbx: Sandbox, seconds: number): void {
    sbx.endAt = new Date(Date.now() + seconds * 1000);
    this.arm(sbx);
  }

  /** Kills a sandbox: marks it gone (envd → 502), cuts its streams, SIGKILLs its groups, removes its dir. */
  async terminate(sbx: Sandbox, reason: 'killed' | 'expired' | 'shutdown'): Promise<void> {
    if (sbx.state === 'killed') return;
    sbx.state = 'killed';
    clearTimeout(sbx.expiryTimer);
    this.sandboxes.delete(sbx.id);
    for (const s of sbx.streams) s.abort();
    sbx.streams.clear();
    sbx.signalAll('SIGKILL');
    this.opts.log(`sandbox ${sbx.id} ${reason}`);
    await sbx.processes.whenAllClosed(2_000);
    sbx.signalAll('SIGKILL');
    await rm(sbx.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
  }

  /** Pauses: stops every process group and the expiry clock. False if already paused. */
  pause(sbx: Sandbox): boolean {
    if (sbx.state !== 'running') return false;
    sbx.state = 'paused';
    for (const s of sbx.streams) s.abort();
    sbx.streams.clear();
    sbx.signalAll('SIGSTOP');
    this.arm(sbx);
    this.opts.log(`sandbox ${sbx.id} paused`);
    return true;
  }

  /**
   * Connect semantics: resumes a paused sandbox (cap permitting) with a fresh deadline, or only
   * ever extends a running one. Returns true when it was resumed.
   */
  connect(sbx: Sandbox, timeoutS: number | undefined): boolean {
    if (sbx.state === 'paused') {
      this.checkCapacity();
      sbx.state = 'running';
      sbx.signalAll('SIGCONT');
      sbx.endAt = new Date(Date.now() + (timeoutS ?? this.opts.defaultTimeoutS) * 1000);
      this.arm(sbx);
      this.opts.log(`sandbox ${sbx.id} resumed`);
      return true;
    }
    if (timeoutS !== undefined) {
      const want = Date.now() + timeoutS * 1000;
      if (want > sbx.endAt.getTime()) { sbx.endAt = new Date(want); this.arm(sbx); }
    }
    return false;
  }

  /** Kills everything (host shutdown). */
  async stopAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all(this.all().map((s) => this.terminate(s, 'shutdown')));
  }

  /** Synchronous last-resort kill of every process group (process 'exit' hook). */
  killAllSync(): void {
    for (const s of this.sandboxes.values()) s.signalAll('SIGKILL');
  }
}
