// One local sandbox: its host directories, how sandbox paths and users map onto them, env,
// deadline, access token, the process groups it started and the open streams that must be cut
// when it dies. Isolated sandboxes see `/home/user` and `/tmp`; unisolated ones use host paths.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { hostOwnerNames, type OwnerNames } from './entry-info.ts';
import { SANDBOX_UID, type Isolation } from './isolation.ts';
import { MetadataSidecar, type MetadataStore } from './metadata.ts';
import type { ProcessTable } from './processes.ts';
import { SandboxFs, type Owner } from './sandbox-fs.ts';
import type { SandboxRoot } from './sandbox-root.ts';

/** Lifecycle state as reported by the API (`killed` sandboxes are already out of the store). */
export type SandboxState = 'running' | 'paused' | 'killed';

/** Something that must be cut when the sandbox dies (open RPC streams). */
export interface Abortable { abort(): void }

/** A Linux user of the sandbox as envd knows it: name, uid inside, home. */
export interface SandboxUser { name: 'user' | 'root'; uid: number; home: string }

/** The sandbox's home inside an isolated sandbox (and its default cwd). */
export const SANDBOX_HOME = '/home/user';

/** Sandbox ids look like E2B's: 20 lowercase alphanumerics. */
export function newSandboxId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(20);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

/** What a sandbox is made from. */
export interface SandboxInit {
  id: string; seq: number; templateId: string; metadata: Record<string, string>; envVars: Record<string, string>;
  dir: string; timeoutS: number; isolation: Isolation | undefined; metadataStore: MetadataStore;
}

/** State of one sandbox. */
export class Sandbox {
  readonly id: string;
  readonly seq: number;
  readonly templateId: string;
  readonly metadata: Record<string, string>;
  readonly envVars: Record<string, string>;
  readonly accessToken = randomBytes(24).toString('base64url');
  /** Host directory of the sandbox; its `home` and `tmp` are the sandbox's /home/user and /tmp. */
  readonly dir: string;
  readonly hostHome: string;
  readonly hostTmp: string;
  /** `$HOME` of `user`, default cwd and base of relative paths, as the sandbox sees it. */
  readonly home: string;
  /** `/tmp` as the sandbox sees it. */
  readonly tmp: string;
  readonly isolation: Isolation | undefined;
  readonly fs: SandboxFs;
  /** The namespaces' pid 1 once started (isolated sandboxes only). */
  root: SandboxRoot | undefined;
  readonly startedAt = new Date();
  endAt: Date;
  state: SandboxState = 'running';
  expiryTimer: NodeJS.Timeout | undefined;
  processes!: ProcessTable;
  /** Process groups whose leader exited while other members lived on (e.g. `cmd &`). */
  readonly lingeringGroups = new Set<number>();
  readonly streams = new Set<Abortable>();

  constructor(init: SandboxInit) {
    this.id = init.id;
    this.seq = init.seq;
    this.templateId = init.templateId;
    this.metadata = init.metadata;
    this.envVars = init.envVars;
    this.dir = init.dir;
    this.hostHome = path.join(init.dir, 'home');
    this.hostTmp = path.join(init.dir, 'tmp');
    this.isolation = init.isolation;
    this.home = init.isolation ? SANDBOX_HOME : this.hostHome;
    this.tmp = init.isolation ? '/tmp' : this.hostTmp;
    this.endAt = new Date(this.startedAt.getTime() + init.timeoutS * 1000);
    this.fs = new SandboxFs(
      [{ at: this.home, host: this.hostHome }, { at: this.tmp, host: this.hostTmp }],
      this.ownerNames(), init.metadataStore, new MetadataSidecar(init.dir),
    );
  }

  private ownerNames(): OwnerNames {
    const iso = this.isolation;
    if (!iso) return hostOwnerNames();
    const inside = (host: number) => iso.insideUid(host) ?? 65534;
    return {
      user: (uid) => iso.userNames.get(inside(uid)) ?? String(inside(uid)),
      group: (gid) => iso.groupNames.get(inside(gid)) ?? String(inside(gid)),
    };
  }

  /** The user a request names (Basic auth or `username`); undefined for an unknown one. Default `user`. */
  user(name: string | undefined): SandboxUser | undefined {
    if (name === undefined || name === '' || name === 'user') return { name: 'user', uid: SANDBOX_UID, home: this.home };
    if (name === 'root') return { name: 'root', uid: 0, home: this.isolation ? '/root' : this.home };
    return undefined;
  }

  /** Host owner of files the API creates for `u` (unchanged without isolation). */
  owner(u: SandboxUser): Owner {
    return this.isolation ? { uid: this.isolation.hostUid(u.uid), gid: this.isolation.hostUid(u.uid) } : undefined;
  }

  /** Base environment of every process (envd order: PATH/HOME/USER, then sandbox envVars). */
  baseEnv(u: SandboxUser): Record<string, string> {
    const isolated = this.isolation !== undefined;
    const name = isolated ? u.name : process.env.USER || 'user';
    const env: Record<string, string> = {
      PATH: isolated ? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' : process.env.PATH || '/usr/local/bin:/usr/bin:/bin',
      HOME: u.home,
      USER: name,
      LOGNAME: name,
      E2B_SANDBOX: 'true',
      E2B_SANDBOX_ID: this.id,
      E2B_TEMPLATE_ID: this.templateId,
    };
    if (!isolated) env.TMPDIR = this.hostTmp;
    if (process.env.LANG) env.LANG = process.env.LANG;
    return { ...env, ...this.envVars };
  }

  /**
   * envd path rules in the sandbox's namespace: '' is the workdir (home), `~` and `~/x` expand to
   * the user's home, a relative path resolves against the workdir. Returns a normalised absolute path.
   */
  sandboxPath(p: string, u: SandboxUser): string {
    if (p === '') return this.home;
    if (p === '~') return u.home;
    if (p.startsWith('~/')) return path.posix.join(u.home, p.slice(2));
    return path.posix.resolve(this.home, p);
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
