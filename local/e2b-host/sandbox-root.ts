// Starts and ends one isolated sandbox's root: a user namespace mapped onto the host's private uid
// range, then bwrap's mount/pid/ipc/uts namespaces inside it. The sandbox's pid 1 lives exactly as
// long as a pipe from this process stays open, so a host that dies takes its sandboxes with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { readlink, writeFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { Isolation } from './isolation.ts';

/** A running sandbox root. */
export interface SandboxRoot {
  /** Host pid of the sandbox's pid 1 (the target nsenter joins). */
  initPid: number;
  /** `pid:[inode]` of the sandbox's pid namespace, to recognise its processes in the host's /proc. */
  pidNs: string;
  /** Resolves when the sandbox's pid 1 is gone (every process in it is then gone too). */
  exited: Promise<void>;
  /** SIGKILLs the sandbox's pid 1; the kernel then kills every process in the namespace. */
  kill(): void;
}

const START_TIMEOUT_MS = 10_000;

/** Reads from `stream` until `done(text)` holds; rejects on end or timeout. */
function readUntil(stream: Readable, done: (text: string) => boolean, what: string, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}: ${stderr()}`)), START_TIMEOUT_MS);
    const onData = (c: Buffer) => { text += c.toString('utf8'); if (done(text)) finish(); };
    const onEnd = () => finish(new Error(`${what} never came: ${stderr().trim() || 'no output'}`));
    const finish = (err?: Error) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      if (err) reject(err); else resolve(text);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
  });
}

function parseInfo(text: string): { 'child-pid'?: number } | undefined {
  try { return JSON.parse(text); } catch { return undefined; }
}

/** Runs a setup command inside a sandbox; rejects with its stderr when it fails. */
function runInside(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    let err = '';
    p.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.slice(-4).join(' ')} failed (${code}): ${err.trim()}`))));
  });
}

/** Starts a sandbox root whose /home/user and /tmp are the host directories `home` and `tmp`. */
export async function startSandboxRoot(iso: Isolation, home: string, tmp: string): Promise<SandboxRoot> {
  const { tools, base } = iso;
  // The holder only owns the new user namespace until its maps are written and bwrap has joined it.
  const holder = spawn(tools.unshare, ['--user', '--', tools.sh, '-c', 'echo ready; read _'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let holderErr = '';
  holder.stderr!.on('data', (c: Buffer) => { holderErr += c.toString(); });
  holder.on('error', () => {});
  let bw: ChildProcess | undefined;
  try {
    await readUntil(holder.stdout!, (t) => t.includes('ready'), 'the user namespace', () => holderErr);
    const map = `0 ${base} 65536\n`;
    await writeFile(`/proc/${holder.pid}/uid_map`, map);
    await writeFile(`/proc/${holder.pid}/gid_map`, map);

    const { argv: bwrap, files } = iso.bwrapArgs(home, tmp, 4);
    const fds = files.map((f) => openSync(f, constants.O_RDONLY | constants.O_NOFOLLOW));
    const argv = [tools.nsenter, '-t', String(holder.pid), '-U', '--', ...bwrap];
    try {
      bw = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe', 'pipe', ...fds] });
    } finally {
      for (const f of fds) closeSync(f);
    }
    let bwErr = '';
    bw.stderr!.on('data', (c: Buffer) => { bwErr += c.toString(); });
    bw.on('error', (e) => { bwErr += e.message; });
    const info = parseInfo(await readUntil(bw.stdio[3] as Readable, (t) => parseInfo(t) !== undefined, 'bwrap to start the sandbox', () => bwErr));
    const initPid = Number(info?.['child-pid']);
    if (!Number.isInteger(initPid) || initPid <= 0) throw new Error(`bwrap reported no child pid: ${bwErr}`);
    await readUntil(bw.stdout!, (t) => t.includes('up'), 'the sandbox root', () => bwErr);
    holder.stdin!.end();
    const pidNs = await readlink(`/proc/${initPid}/ns/pid`);
    const fixup = iso.suidFixup();
    if (fixup) await runInside(iso.enterArgs(initPid, 0, fixup));
    const proc = bw;
    const exited = new Promise<void>((r) => {
      if (proc.exitCode !== null || proc.signalCode !== null) r(); else proc.once('exit', () => r());
    });
    // The sandbox's pid 1 (`cat`) reads this pipe; it is never written and closes only when we die.
    for (const s of [proc.stdin, proc.stdout, proc.stderr, proc.stdio[3]] as Array<Writable | Readable | null>) (s as unknown as { unref?: () => void })?.unref?.();
    proc.unref();
    return {
      initPid, pidNs, exited,
      kill: () => {
        try { process.kill(initPid, 'SIGKILL'); } catch { /* gone */ }
        try { proc.kill('SIGKILL'); } catch { /* gone */ }
      },
    };
  } catch (err) {
    bw?.kill('SIGKILL');
    holder.kill('SIGKILL');
    throw err;
  } finally {
    if (holder.exitCode === null) holder.stdin!.end();
  }
}
