// Per-sandbox process table: spawns real child processes in their own process group, fans
// their output out to subscribed streams, reports envd-style end events, retains exits 30 s.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Sandbox } from './sandbox.ts';

/** `ProcessEvent.end` as envd builds it from Go's ProcessState. */
export interface EndEvent { exitCode?: number; exited: boolean; status: string; error?: string }

/** A stream listening to one process. */
export interface Subscriber {
  data(kind: 'stdout' | 'stderr' | 'pty', chunk: Buffer): void;
  end(ev: EndEvent): void;
}

/** What a Start request asked for (`envs` is the request's own map, as List reports it). */
export interface ProcessConfig { cmd: string; args: string[]; envs: Record<string, string>; cwd: string }

const RETAIN_EXIT_MS = 30_000;
const FORCE_CLOSE_MS = 500;
const SIGNAL_NAMES: Record<string, string> = {
  SIGKILL: 'killed', SIGTERM: 'terminated', SIGINT: 'interrupt', SIGHUP: 'hangup', SIGQUIT: 'quit',
  SIGPIPE: 'broken pipe', SIGABRT: 'aborted', SIGSEGV: 'segmentation fault', SIGUSR1: 'user defined signal 1',
  SIGUSR2: 'user defined signal 2', SIGALRM: 'alarm clock',
};

/** envd runs `/bin/bash -l -c cmd`; a login shell would source host profiles (PATH/HOME resets), so drop `-l`. */
function hostArgs(cmd: string, args: string[]): string[] {
  if (!/(^|\/)bash$/.test(cmd)) return args;
  return args.filter((a) => a !== '-l' && a !== '--login');
}

/** One spawned process and its subscribers. */
export class ManagedProcess {
  readonly pid: number;
  readonly config: ProcessConfig;
  readonly tag: string | undefined;
  readonly pty: boolean;
  readonly child: ChildProcess;
  readonly subscribers = new Set<Subscriber>();
  result: EndEvent | undefined;
  private forcing = false;
  private timeout: NodeJS.Timeout | undefined;

  constructor(child: ChildProcess, config: ProcessConfig, tag: string | undefined, pty: boolean) {
    this.child = child;
    this.pid = child.pid!;
    this.config = config;
    this.tag = tag;
    this.pty = pty;
  }

  /** Kills after `ms` like envd's context deadline, even with no client attached. */
  setDeadline(ms: number): void {
    this.timeout = setTimeout(() => this.signal('SIGKILL'), ms);
    this.timeout.unref();
  }

  /** Signals the whole process group; ensures `end` still arrives if a grandchild holds the pipes. */
  signal(sig: NodeJS.Signals): void {
    if (this.result) return;
    try { process.kill(-this.pid, sig); } catch { try { this.child.kill(sig); } catch { /* gone */ } }
    if ((sig === 'SIGKILL' || sig === 'SIGTERM') && !this.forcing) {
      // envd cancels its output readers on kill; a grandchild that escaped the group may still
      // hold the pipes, so close them shortly after the leader exits.
      this.forcing = true;
      const force = () => setTimeout(() => {
        if (this.result) return;
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
      }, FORCE_CLOSE_MS).unref();
      if (this.child.exitCode !== null || this.child.signalCode !== null) force();
      else this.child.once('exit', force);
    }
  }

  /** Writes stdin (or pty input); throws when stdin was not enabled or is closed. */
  write(data: Buffer): void {
    const stdin = this.child.stdin;
    if (!stdin || stdin.writableEnded || stdin.destroyed) throw new Error('error writing to stdin: stdin not enabled or closed');
    stdin.write(data);
  }

  closeStdin(): void {
    const stdin = this.child.stdin;
    if (stdin && !stdin.writableEnded) stdin.end();
  }

  finish(code: number | null, sig: NodeJS.Signals | null): EndEvent {
    clearTimeout(this.timeout);
    let ev: EndEvent;
    if (code !== null) {
      ev = { exitCode: code, exited: true, status: `exit status ${code}` };
      if (code !== 0) ev.error = ev.status;
    } else {
      const name = sig ?? 'SIGKILL';
      const status = `signal: ${SIGNAL_NAMES[name] ?? name.toLowerCase()}`;
      ev = { exitCode: -1, exited: false, status, error: status };
    }
    this.result = ev;
    for (const s of this.subscribers) s.end(ev);
    this.subscribers.clear();
    return ev;
  }
}

/** The processes of one sandbox: live ones plus recently exited ones (for Connect). */
export class ProcessTable {
  private readonly live = new Map<number, ManagedProcess>();
  private readonly exited = new Map<number, ManagedProcess>();
  private readonly sbx: Sandbox;

  constructor(sbx: Sandbox) { this.sbx = sbx; }

  /** Spawns synchronously; the caller must subscribe in the same tick to see all output. */
  start(config: ProcessConfig, env: Record<string, string>, opts: { stdin: boolean; pty: boolean; tag?: string }): ManagedProcess {
    const useStdin = opts.stdin || opts.pty;
    const child = spawn(config.cmd, hostArgs(config.cmd, config.args), {
      cwd: config.cwd,
      env,
      detached: true,
      stdio: [useStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      // Spawn failed (e.g. ENOENT); the error event follows asynchronously.
      child.on('error', () => {});
      throw new Error(`error starting process '${config.cmd}'`);
    }
    const proc = new ManagedProcess(child, config, opts.tag, opts.pty);
    this.live.set(proc.pid, proc);
    const fan = (kind: 'stdout' | 'stderr' | 'pty') => (chunk: Buffer) => {
      for (const s of proc.subscribers) s.data(kind, chunk);
    };
    child.stdout!.on('data', fan(opts.pty ? 'pty' : 'stdout'));
    child.stderr!.on('data', fan(opts.pty ? 'pty' : 'stderr'));
    child.stdin?.on('error', () => { /* EPIPE after exit */ });
    child.on('error', () => { /* reported through close */ });
    child.on('close', (code, sig) => {
      proc.finish(code, sig);
      this.live.delete(proc.pid);
      // Members of the group may outlive the leader (`cmd &`); remember them for kill/pause.
      try { process.kill(-proc.pid, 0); this.sbx.lingeringGroups.add(proc.pid); } catch { /* group empty */ }
      this.exited.set(proc.pid, proc);
      setTimeout(() => { if (this.exited.get(proc.pid) === proc) this.exited.delete(proc.pid); }, RETAIN_EXIT_MS).unref();
    });
    return proc;
  }

  /** Finds a process by pid or tag; `exited` also returns retained finished ones. */
  find(sel: { pid?: number; tag?: string }, includeExited = false): ManagedProcess | undefined {
    const match = (p: ManagedProcess) => (sel.pid !== undefined ? p.pid === sel.pid : sel.tag !== undefined && p.tag === sel.tag);
    for (const p of this.live.values()) if (match(p)) return p;
    if (includeExited) for (const p of this.exited.values()) if (match(p)) return p;
    return undefined;
  }

  list(): ManagedProcess[] { return [...this.live.values()]; }

  /** Process-group ids of live processes. */
  groups(): number[] { return [...this.live.keys()]; }

  /** Resolves once every live process has closed (or after `ms`). */
  whenAllClosed(ms: number): Promise<void> {
    const waits = this.list().map((p) => new Promise<void>((r) => p.child.once('close', () => r())));
    return Promise.race([Promise.all(waits).then(() => {}), new Promise<void>((r) => setTimeout(r, ms).unref())]);
  }
}
