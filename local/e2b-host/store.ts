// The set of live sandboxes: creation (latency, concurrency cap, injected failures, the isolated
// root), expiry at the deadline, kill, pause/resume (SIGSTOP/SIGCONT of the sandbox's processes).
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from './http-util.ts';
import { SANDBOX_UID, type Isolation } from './isolation.ts';
import type { MetadataStore } from './metadata.ts';
import type { MetricsSampler } from './metrics.ts';
import { ProcessTable } from './processes.ts';
import { processesInNamespace } from './proc-scan.ts';
import { startSandboxRoot } from './sandbox-root.ts';
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
  /** Set when sandboxes run isolated. */
  isolation: Isolation | undefined;
  metadata: MetadataStore;
  metrics: MetricsSampler;
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
      const iso = this.opts.isolation;
      const sbx = new Sandbox({
        id, seq: ++this.seq, templateId: p.templateId, metadata: p.metadata, envVars: p.envVars,
        dir: path.join(this.opts.root, id), timeoutS: p.timeoutS ?? this.opts.defaultTimeoutS,
        isolation: iso, metadataStore: this.opts.metadata,
      });
      sbx.processes = new ProcessTable(sbx, this.opts.spawner);
      await mkdir(sbx.hostHome, { recursive: true });
      await mkdir(sbx.hostTmp, { recursive: true });
      if (iso) {
        // The sandbox dir stays root-only on the host; inside, home belongs to `user`, /tmp is 1777.
        await chmod(sbx.dir, 0o711);
        await chown(sbx.hostHome, iso.hostUid(SANDBOX_UID), iso.hostUid(SANDBOX_UID));
        await chmod(sbx.hostHome, 0o755);
        await chown(sbx.hostTmp, iso.hostUid(0), iso.hostUid(0));
        await chmod(sbx.hostTmp, 0o1777);
        try {
          sbx.root = await startSandboxRoot(iso, sbx.hostHome, sbx.hostTmp);
        } catch (err) {
          await rm(sbx.dir, { recursive: true, force: true }).catch(() => {});
          throw new HttpError(500, `could not start the sandbox: ${(err as Error).message}`);
        }
        // Something inside ended pid 1's watch (e.g. root killed it): the sandbox is gone.
        void sbx.root.exited.then(() => { if (sbx.state !== 'killed') void this.terminate(sbx, 'killed'); });
      }
      this.sandboxes.set(id, sbx);
      this.opts.metrics.start();
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
    this.opts.metrics.forget(sbx.id);
    for (const s of sbx.streams) s.abort();
    sbx.streams.clear();
    // Killing pid 1 of an isolated sandbox makes the kernel kill every process in it.
    sbx.root?.kill();
    sbx.signalAll('SIGKILL');
    this.opts.log(`sandbox ${sbx.id} ${reason}`);
    await sbx.processes.whenAllClosed(2_000);
    sbx.signalAll('SIGKILL');
    if (sbx.root) await Promise.race([sbx.root.exited, new Promise((r) => setTimeout(r, 2_000).unref())]);
    await rm(sbx.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
  }

  /** Sends `sig` to every process of the sandbox (all of its pid namespace when isolated). */
  private async signalSandbox(sbx: Sandbox, sig: NodeJS.Signals): Promise<void> {
    sbx.signalAll(sig);
    if (!sbx.root) return;
    // Two passes: a process forked while the first pass ran is caught by the second.
    for (let pass = 0; pass < 2; pass++) {
      for (const pid of await processesInNamespace(sbx.root.pidNs)) {
        if (pid === sbx.root.initPid) continue;
        try { process.kill(pid, sig); } catch { /* gone */ }
      }
    }
  }

  /** Pauses: stops every process group and the expiry clock. False if already paused. */
  pause(sbx: Sandbox): boolean {
    if (sbx.state !== 'running') return false;
    sbx.state = 'paused';
    for (const s of sbx.streams) s.abort();
    sbx.streams.clear();
    void this.signalSandbox(sbx, 'SIGSTOP');
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
      void this.signalSandbox(sbx, 'SIGCONT');
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
    this.opts.metrics.stop();
    await Promise.all(this.all().map((s) => this.terminate(s, 'shutdown')));
  }

  /** Synchronous last-resort kill of every process group (process 'exit' hook). */
  killAllSync(): void {
    for (const s of this.sandboxes.values()) { s.root?.kill(); s.signalAll('SIGKILL'); }
  }
}
