// Per-sandbox process table: real child processes in their own process group (entered into the
// sandbox's namespaces when it is isolated), output fanned out to subscribed streams, envd-style
// end events, exits retained 30 s for Connect. Pids are the ones the sandbox itself sees.
import { ptyArgv, resizeLine } from './pty-helper.ts';
import { SpawnError, type ChildHandle, type Spawner } from './spawner.ts';
import type { Sandbox, SandboxUser } from './sandbox.ts';

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
  SIGPIPE: 'broken pipe', SIGABRT: 'aborted', SIGSEGV: 'segmentation fault', SIGALRM: 'alarm clock',
};

/** A Start that could not run because its working directory is missing. */
export class MissingCwdError extends Error {}

/**
 * Without isolation, a login shell would source the host's profiles (PATH/HOME resets), so `-l`
 * is dropped from `bash`; an isolated sandbox keeps envd's `bash -l`.
 */
function hostArgs(cmd: string, args: string[]): string[] {
  if (!/(^|\/)bash$/.test(cmd)) return args;
  return args.filter((a) => a !== '-l' && a !== '--login');
}

/**
 * Runs first in the sandbox: enters the cwd (or reports `cwd` on fd 3), reports its pid on fd 3,
 * closes fd 3 and becomes the command.
 */
const SHIM = 'cd -- "$1" 2>/dev/null || { echo cwd >&3; exit 127; }; echo $$ >&3; exec 3>&-; shift; exec "$@"';

function endEvent(code: number | null, sig: string | null): EndEvent {
  if (code !== null) {
    const ev: EndEvent = { exitCode: code, exited: true, status: `exit status ${code}` };
    if (code !== 0) ev.error = ev.status;
    return ev;
  }
  const name = sig ?? 'SIGKILL';
  const status = `signal: ${SIGNAL_NAMES[name] ?? name.toLowerCase()}`;
  return { exitCode: -1, exited: false, status, error: status };
}

/** One spawned process and its subscribers. */
export class ManagedProcess {
  /** The pid as the sandbox sees it (what the SDK gets). */
  readonly pid: number;
  readonly config: ProcessConfig;
  readonly tag: string | undefined;
  readonly child: ChildHandle;
  readonly stdinOpen: boolean;
  readonly subscribers = new Set<Subscriber>();
  readonly closed: Promise<void>;
  result: EndEvent | undefined;
  private stdinEnded = false;
  private forcing = false;
  private timeout: NodeJS.Timeout | undefined;
  private exitWaiters: Array<() => void> = [];
  private markClosed!: () => void;

  constructor(child: ChildHandle, config: ProcessConfig, tag: string | undefined, stdinOpen: boolean) {
    this.child = child;
    this.pid = child.nsPid;
    this.config = config;
    this.tag = tag;
    this.stdinOpen = stdinOpen;
    this.closed = new Promise((r) => { this.markClosed = r; });
  }

  /** Kills after `ms` like envd's context deadline, even with no client attached. */
  setDeadline(ms: number): void {
    this.timeout = setTimeout(() => this.signal('SIGKILL'), ms);
    this.timeout.unref();
  }

  /** Signals the whole process group; ensures `end` still arrives if a grandchild holds the pipes. */
  signal(sig: NodeJS.Signals): void {
    if (this.result) return;
    const host = this.child.pid;
    try { process.kill(-host, sig); } catch { try { process.kill(host, sig); } catch { /* gone */ } }
    if ((sig === 'SIGKILL' || sig === 'SIGTERM') && !this.forcing) {
      // envd cancels its output readers on kill; something that escaped the group may still
      // hold the pipes, so close them shortly after the leader exits.
      this.forcing = true;
      const force = () => setTimeout(() => { if (!this.result) this.child.destroyStdio(); }, FORCE_CLOSE_MS).unref();
      if (this.child.exited) force(); else this.exitWaiters.push(force);
    }
  }

  /** Writes stdin (or pty input); throws when stdin was not enabled or is closed. */
  write(data: Buffer): void {
    if (!this.stdinOpen || this.stdinEnded || this.result) throw new Error('error writing to stdin: stdin not enabled or closed');
    this.child.write(data);
  }

  /** Applies a PTY size (no-op for a process without a terminal). */
  resize(cols: number, rows: number): void {
    if (!this.result) this.child.control(resizeLine(cols, rows));
  }

  closeStdin(): void {
    if (!this.stdinOpen || this.stdinEnded) return;
    this.stdinEnded = true;
    this.child.endStdin();
  }

  onExit(): void {
    for (const fn of this.exitWaiters.splice(0)) fn();
  }

  finish(code: number | null, sig: string | null): void {
    clearTimeout(this.timeout);
    const ev = endEvent(code, sig);
    this.result = ev;
    for (const s of this.subscribers) s.end(ev);
    this.subscribers.clear();
    this.markClosed();
  }
}

/** The processes of one sandbox: live ones plus recently exited ones (for Connect). */
export class ProcessTable {
  private readonly live = new Map<number, ManagedProcess>();
  private readonly exited = new Map<number, ManagedProcess>();
  private readonly sbx: Sandbox;
  private readonly spawner: Spawner;

  constructor(sbx: Sandbox, spawner: Spawner) { this.sbx = sbx; this.spawner = spawner; }

  /**
   * Spawns a process. `onStarted` runs before any output is delivered, so the caller can send
   * the `start` event and subscribe without losing data.
   */
  async start(
    config: ProcessConfig, env: Record<string, string>,
    opts: { stdin: boolean; pty?: { cols: number; rows: number }; tag?: string; user: SandboxUser },
    onStarted: (p: ManagedProcess) => void,
  ): Promise<ManagedProcess> {
    const sbx = this.sbx;
    const iso = sbx.isolation;
    const python3 = iso ? iso.tools.python3 : '/usr/bin/python3';
    const pty = opts.pty && python3 ? opts.pty : undefined;
    const useStdin = opts.stdin || opts.pty !== undefined;
    const args = iso ? config.args : hostArgs(config.cmd, config.args);
    const inner = pty ? ptyArgv(python3!, pty.cols, pty.rows, config.cmd, args) : [config.cmd, ...args];
    const shim = ['/bin/sh', '-c', SHIM, 'sh', config.cwd, ...inner];
    let argv = shim;
    if (iso) {
      if (!sbx.root) throw new Error('sandbox root is not running');
      argv = iso.enterArgs(sbx.root.initPid, opts.user.uid, shim);
    }
    let child: ChildHandle;
    try {
      child = await this.spawner.spawn({ cmd: argv[0], args: argv.slice(1), cwd: '/', env, stdin: useStdin, report: true, control: pty !== undefined });
    } catch (err) {
      if (err instanceof SpawnError && err.code === 'cwd') throw new MissingCwdError(config.cwd);
      throw err;
    }
    const proc = new ManagedProcess(child, config, opts.tag, useStdin);
    this.live.set(proc.pid, proc);
    // The sandbox may have been killed or paused while the spawn was in flight.
    if (this.sbx.state === 'killed') proc.signal('SIGKILL');
    else if (this.sbx.state === 'paused') try { process.kill(-child.pid, 'SIGSTOP'); } catch { /* gone */ }
    onStarted(proc);
    child.attach({
      data: (kind, chunk) => {
        const k = opts.pty ? 'pty' : kind;
        for (const s of proc.subscribers) s.data(k, chunk);
      },
      exit: () => proc.onExit(),
      close: (code, sig) => {
        proc.finish(code, sig);
        this.live.delete(proc.pid);
        // Members of the group may outlive the leader (`cmd &`); remember them for kill/pause.
        try { process.kill(-child.pid, 0); this.sbx.lingeringGroups.add(child.pid); } catch { /* group empty */ }
        this.exited.set(proc.pid, proc);
        setTimeout(() => { if (this.exited.get(proc.pid) === proc) this.exited.delete(proc.pid); }, RETAIN_EXIT_MS).unref();
      },
    });
    return proc;
  }

  /** Finds a process by pid or tag; `includeExited` also returns retained finished ones. */
  find(sel: { pid?: number; tag?: string }, includeExited = false): ManagedProcess | undefined {
    const match = (p: ManagedProcess) => (sel.pid !== undefined ? p.pid === sel.pid : sel.tag !== undefined && p.tag === sel.tag);
    for (const p of this.live.values()) if (match(p)) return p;
    if (includeExited) for (const p of this.exited.values()) if (match(p)) return p;
    return undefined;
  }

  list(): ManagedProcess[] { return [...this.live.values()]; }

  /** Host process-group ids of live processes. */
  groups(): number[] { return [...this.live.values()].map((p) => p.child.pid); }

  /** Resolves once every live process has closed (or after `ms`). */
  whenAllClosed(ms: number): Promise<void> {
    const all = Promise.all(this.list().map((p) => p.closed)).then(() => {});
    return Promise.race([all, new Promise<void>((r) => setTimeout(r, ms).unref())]);
  }
}
