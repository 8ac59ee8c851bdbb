// Sandbox isolation with bubblewrap: detects whether it can work here, prepares the host-wide
// system overlay (curated /etc entries, a sudo owned by the sandboxes' root) and builds the argv
// that enters a sandbox. Each sandbox gets a user namespace whose uids 0..65535 map to a private
// host range, so its root is powerless outside; see local/ISOLATION.md.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, chown, copyFile, cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Whether sandboxes run isolated; `reason` says why not (or what was degraded). */
export interface IsolationStatus { enabled: boolean; reason?: string }

/** `auto` isolates when bwrap works, `off` never does, `required` refuses to start without it. */
export type IsolationMode = 'auto' | 'off' | 'required';

/** Uid/gid of the sandbox user, as seen inside the sandbox. */
export const SANDBOX_UID = 1000;
/** Size of the uid/gid range each host maps into its sandboxes (inside 0..65535). */
const RANGE = 65536;
/** System directories bound read-only into every sandbox (symlinks are recreated as symlinks). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'];

/** Host binaries the isolated mode needs. */
export interface Tools { bwrap: string; unshare: string; nsenter: string; sh: string; python3?: string }

/** Finds an executable on PATH or in the usual system directories. */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Host-wide isolation settings shared by every sandbox of one host. */
export class Isolation {
  readonly tools: Tools;
  /** Host uid that is root inside the sandboxes; inside uid n is host uid base + n. */
  readonly base: number;
  /** Host directory holding the files overlaid on each sandbox's system dirs. */
  readonly systemDir: string;
  /** bwrap arguments that bind the host's system directories read-only. */
  private systemArgs: string[] = [];
  /** Host files (under the host's root dir) overlaid read-only on system paths, then extra tmpfs. */
  private overlays: Array<{ src: string; dest: string }> = [];
  private overlayTmpfs: string[] = [];
  /** uid → name inside the sandbox (from the curated /etc/passwd). */
  readonly userNames = new Map<number, string>();
  readonly groupNames = new Map<number, string>();
  /** Whether `sudo` works inside (the host has the sudo package). */
  sudo = false;

  constructor(tools: Tools, base: number, systemDir: string) {
    this.tools = tools;
    this.base = base;
    this.systemDir = systemDir;
  }

  /** Host uid of an inside uid. */
  hostUid(inside: number): number { return this.base + inside; }

  /** Inside uid of a host uid, or undefined when it is not in this host's range. */
  insideUid(host: number): number | undefined {
    return host >= this.base && host < this.base + RANGE ? host - this.base : undefined;
  }

  /** Writes the curated /etc entries and the sudo copy, then computes the system bind arguments. */
  async prepare(): Promise<void> {
    const etc = path.join(this.systemDir, 'etc');
    await mkdir(path.join(etc, 'pam.d'), { recursive: true });
    const keep = (line: string) => {
      const f = line.split(':');
      return f.length > 3 && f[0] !== 'user' && f[2] !== String(SANDBOX_UID);
    };
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').filter(keep);
    passwd.push(`user:x:${SANDBOX_UID}:${SANDBOX_UID}::/home/user:/bin/bash`);
    const group = readFileSync('/etc/group', 'utf8').split('\n').filter(keep)
      .map((l) => (/^sudo:/.test(l) ? `${l}${l.endsWith(':') ? '' : ','}user` : l));
    group.push(`user:x:${SANDBOX_UID}:`);
    await writeFile(path.join(etc, 'passwd'), `${passwd.join('\n')}\n`);
    await writeFile(path.join(etc, 'group'), `${group.join('\n')}\n`);
    for (const l of passwd) { const f = l.split(':'); this.userNames.set(Number(f[2]), f[0]); }
    for (const l of group) { const f = l.split(':'); this.groupNames.set(Number(f[2]), f[0]); }
    let hosts = '';
    try { hosts = readFileSync('/etc/hosts', 'utf8'); } catch { /* none */ }
    await writeFile(path.join(etc, 'hosts'), `${hosts.replace(/\n*$/, '\n')}127.0.1.1 e2b\n`);
    await writeFile(path.join(etc, 'hostname'), 'e2b\n');

    const args: string[] = [];
    for (const dir of SYSTEM_DIRS) {
      let st;
      try { st = lstatSync(dir); } catch { continue; }
      if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
      else if (st.isDirectory()) args.push('--ro-bind', dir, dir);
    }
    this.systemArgs = args;
    for (const f of ['passwd', 'group', 'hosts', 'hostname']) this.overlays.push({ src: path.join(etc, f), dest: `/etc/${f}` });
    this.sudo = await this.prepareSudo(etc);
  }

  /**
   * sudo refuses to run unless its binary, plugins and sudoers belong to uid 0, and the host's
   * root is unmapped inside; so copies owned by the sandboxes' root are overlaid on the originals.
   */
  private async prepareSudo(etc: string): Promise<boolean> {
    const bin = '/usr/bin/sudo';
    const lib = ['/usr/libexec/sudo', '/usr/lib/sudo'].find((d) => existsSync(d));
    if (!existsSync(bin) || !lib || !existsSync('/etc/pam.d')) return false;
    const root = this.hostUid(0);
    const sudoDir = path.join(this.systemDir, 'sudo');
    await mkdir(sudoDir, { recursive: true });
    await copyFile(bin, path.join(sudoDir, 'sudo'));
    await cp(lib, path.join(sudoDir, 'lib'), { recursive: true, verbatimSymlinks: true });
    const sudoers = path.join(etc, 'sudoers');
    await writeFile(sudoers, 'Defaults !lecture, !fqdn, !syslog, !admin_flag, env_reset, secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nroot ALL=(ALL:ALL) ALL\nuser ALL=(ALL:ALL) NOPASSWD: ALL\n');
    // The host's PAM stack reads /etc/shadow, which the sandbox's root cannot read; sudo needs none.
    await writeFile(path.join(etc, 'pam.d', 'sudo'), 'auth sufficient pam_permit.so\naccount sufficient pam_permit.so\nsession sufficient pam_permit.so\npassword sufficient pam_permit.so\n');
    const own = async (p: string): Promise<void> => {
      await chown(p, root, root);
      const st = lstatSync(p);
      if (st.isDirectory()) for (const e of await readdir(p)) await own(path.join(p, e));
    };
    await own(sudoDir);
    await chown(sudoers, root, root);
    await chmod(path.join(sudoDir, 'sudo'), 0o4755);
    await chmod(sudoers, 0o440);
    const conf = path.join(etc, 'sudo.conf');
    await writeFile(conf, 'Set disable_coredump false\n');
    await chown(conf, root, root);
    const pam = path.join(etc, 'pam.d', 'sudo');
    this.overlays.push({ src: path.join(sudoDir, 'sudo'), dest: bin }, { src: path.join(sudoDir, 'lib'), dest: lib },
      { src: sudoers, dest: '/etc/sudoers' }, { src: conf, dest: '/etc/sudo.conf' }, { src: pam, dest: '/etc/pam.d/sudo' });
    if (existsSync('/etc/pam.d/sudo-i')) this.overlays.push({ src: pam, dest: '/etc/pam.d/sudo-i' });
    if (existsSync('/etc/sudoers.d')) this.overlayTmpfs.push('/etc/sudoers.d');
    return true;
  }

  /**
   * The bwrap argv (after `nsenter -U`) that builds a sandbox root around `home` and `tmp`. Host
   * paths under the host's own root dir are passed as open fds (`files`, to be given to bwrap as
   * fds `firstFd`…), since the sandbox's root cannot walk a private host directory.
   */
  bwrapArgs(home: string, tmp: string, firstFd: number): { argv: string[]; files: string[] } {
    const files: string[] = [];
    const fd = (p: string) => { files.push(p); return String(firstFd + files.length - 1); };
    const overlay: string[] = [];
    for (const o of this.overlays) overlay.push('--ro-bind-fd', fd(o.src), o.dest);
    for (const t of this.overlayTmpfs) overlay.push('--tmpfs', t);
    const argv = [
      this.tools.bwrap,
      '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', 'e2b', '--die-with-parent',
      ...this.systemArgs,
      ...overlay,
      '--perms', '0755', '--dir', '/home',
      '--bind-fd', fd(home), '/home/user',
      '--bind-fd', fd(tmp), '/tmp',
      '--proc', '/proc',
      '--dev', '/dev',
      '--perms', '1777', '--size', String(256 << 20), '--tmpfs', '/dev/shm',
      '--perms', '0700', '--size', String(64 << 20), '--tmpfs', '/root',
      '--perms', '0755', '--size', String(64 << 20), '--tmpfs', '/run',
      '--perms', '0755', '--dir', '/var',
      '--symlink', '/tmp', '/var/tmp',
      '--remount-ro', '/',
      '--info-fd', '3',
      // pid 1's child says when the root is complete, then waits on the host's pipe.
      '--', '/bin/sh', '-c', 'echo up; exec cat >/dev/null',
    ];
    return { argv, files };
  }

  /**
   * The command (run as the sandbox's root) that lets the sudo binary's setuid bit work: bwrap
   * mounts every bind nosuid, and only this one file mount is switched back.
   */
  suidFixup(): string[] | undefined {
    return this.sudo ? ['/bin/mount', '-o', 'remount,bind,ro,nodev,suid', '/usr/bin/sudo'] : undefined;
  }

  /**
   * The argv that runs `cmd` inside the sandbox whose pid-1 is `initPid`, as inside `uid`. The
   * namespaces are entered by nsenter from the host, so the command does not inherit bwrap's
   * no_new_privs and the sandbox's setuid sudo works.
   */
  enterArgs(initPid: number, uid: number, cmd: string[]): string[] {
    const who = uid === 0 ? [] : ['-S', String(uid), '-G', String(uid)];
    return [this.tools.nsenter, '-t', String(initPid), '-U', '-m', '-p', '-i', '-u', '-r', '-w', ...who, '--', ...cmd];
  }
}

/** A uid base in a range no ordinary host account uses, random so concurrent hosts rarely share one. */
export function pickUidBase(): number {
  return RANGE * randomInt(16, 30_000);
}

/** Checks the host can run isolated sandboxes; returns the tools or why not. */
export function detectTools(): { tools?: Tools; reason?: string } {
  if (process.platform !== 'linux') return { reason: 'isolation needs Linux namespaces' };
  if (process.getuid?.() !== 0) return { reason: 'isolation needs the host to run as root (it maps a private uid range per host)' };
  const bwrap = which('bwrap');
  if (!bwrap) return { reason: 'bwrap not found (apt-get install bubblewrap)' };
  const unshare = which('unshare');
  const nsenter = which('nsenter');
  if (!unshare || !nsenter) return { reason: 'unshare/nsenter (util-linux) not found' };
  const ver = spawnSync(bwrap, ['--version'], { encoding: 'utf8' });
  if (ver.status !== 0) return { reason: `bwrap does not run: ${ver.stderr || ver.error?.message}` };
  const python3 = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : undefined;
  return { tools: { bwrap, unshare, nsenter, sh: '/bin/sh', python3 } };
}
