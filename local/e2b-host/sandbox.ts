// One local sandbox: its directory and HOME, env, deadline, access token, the process groups it
// started and the open streams that must be cut when it dies. Path confinement lives here too.
import { randomBytes } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import type { ProcessTable } from './processes.ts';

/** Lifecycle state as reported by the API (`killed` sandboxes are already out of the store). */
export type SandboxState = 'running' | 'paused' | 'killed';

/** Something that must be cut when the sandbox dies (open RPC streams). */
export interface Abortable { abort(): void }

/** Raised when a path resolves outside the sandbox directory. */
export class PathOutsideError extends Error {}

/** Sandbox ids look like E2B's: 20 lowercase alphanumerics. */
export function newSandboxId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(20);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

/** State of one sandbox. */
export class Sandbox {
  readonly id: string;
  readonly seq: number;
  readonly templateId: string;
  readonly metadata: Record<string, string>;
  readonly envVars: Record<string, string>;
  readonly accessToken = randomBytes(24).toString('base64url');
  /** Sandbox root; everything the sandbox may touch through the API lives below it. */
  readonly dir: string;
  /** `$HOME`, default cwd and base for relative paths. */
  readonly home: string;
  readonly tmp: string;
  readonly startedAt = new Date();
  endAt: Date;
  state: SandboxState = 'running';
  expiryTimer: NodeJS.Timeout | undefined;
  processes!: ProcessTable;
  /** Process groups whose leader exited while other members lived on (e.g. `cmd &`). */
  readonly lingeringGroups = new Set<number>();
  readonly streams = new Set<Abortable>();

  constructor(init: { id: string; seq: number; templateId: string; metadata: Record<string, string>; envVars: Record<string, string>; dir: string; timeoutS: number }) {
    this.id = init.id;
    this.seq = init.seq;
    this.templateId = init.templateId;
    this.metadata = init.metadata;
    this.envVars = init.envVars;
    this.dir = init.dir;
    this.home = path.join(init.dir, 'home');
    this.tmp = path.join(init.dir, 'tmp');
    this.endAt = new Date(Date.now() + init.timeoutS * 1000);
  }

  /** Base environment of every process (envd order: PATH/HOME/USER, then sandbox envVars). */
  baseEnv(): Record<string, string> {
    const user = process.env.USER || 'user';
    return {
      PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
      HOME: this.home,
      USER: user,
      LOGNAME: user,
      TMPDIR: this.tmp,
      E2B_SANDBOX: 'true',
      E2B_SANDBOX_ID: this.id,
      E2B_TEMPLATE_ID: this.templateId,
      ...this.envVars,
    };
  }

  /** Lexically resolves an API path (absolute, `~/x` or relative to HOME); null when outside the sandbox. */
  lexicalPath(p: string): string | null {
    let abs: string;
    if (p === '' || p === '~') abs = this.home;
    else if (p.startsWith('~/')) abs = path.join(this.home, p.slice(2));
    else abs = path.resolve(this.home, p);
    return this.contains(abs) ? abs : null;
  }

  /**
   * Resolves an API path and refuses anything outside the sandbox directory, including
   * escapes through symlinks (checked on the deepest existing ancestor).
   */
  async resolvePath(p: string): Promise<string> {
    const abs = this.lexicalPath(p);
    if (abs === null) throw new PathOutsideError(`path '${p}' is outside the sandbox directory ${this.dir}`);
    let probe = abs;
    for (;;) {
      try {
        const real = await realpath(probe);
        if (!this.contains(real)) throw new PathOutsideError(`path '${p}' resolves outside the sandbox directory`);
        return abs;
      } catch (err) {
        if (err instanceof PathOutsideError) throw err;
        const parent = path.dirname(probe);
        if (parent === probe || !this.contains(parent)) return abs;
        probe = parent;
      }
    }
  }

  private contains(abs: string): boolean {
    return abs === this.dir || abs.startsWith(this.dir + path.sep);
  }

  /** Sends a signal to every process group this sandbox owns (running leaders and lingering groups). */
  signalAll(signal: NodeJS.Signals): void {
    for (const pgid of [...this.processes.groups(), ...this.lingeringGroups]) {
      try { process.kill(-pgid, signal); } catch { /* group already gone */ }
    }
  }

  /** Forgets lingering groups that have no members left (their ids may be reused by the OS). */
  sweepGroups(): void {
    for (const pgid of this.lingeringGroups) {
      try { process.kill(-pgid, 0); } catch { this.lingeringGroups.delete(pgid); }
    }
  }
}
