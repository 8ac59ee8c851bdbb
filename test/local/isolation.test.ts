// Attacks on the local E2B host's sandbox isolation, each from inside sandbox A through the real SDK:
// B's files and processes, the host's project and state directories, and the system directories
// stay out of reach; the file API and commands share one filesystem; killing a sandbox ends it all.
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, SandboxError } from 'e2b';
import { host, create, pidNamespace, processesIn, waitFor, useLocalHost } from './helpers/e2b-host-setup.ts';

useLocalHost({ metricsIntervalMs: 500 });

/** Runs `cmd` in `sbx` and returns its exit code and output, failing or not. */
async function attempt(sbx: Sandbox, cmd: string, user?: 'root' | 'user'): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return sbx.commands.run(cmd, user ? { user } : {}).catch((e) => ({ exitCode: e.exitCode ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(e) }));
}

/** Expects an SDK call to fail the way envd fails on a path the user cannot reach. */
async function expectDenied(p: Promise<unknown>): Promise<void> {
  const err = await p.then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(SandboxError);
  expect(err.message).toMatch(/permission denied/);
}

/** Expects an SDK call on a host path to fail: refused, or not there at all in the sandbox. */
async function expectUnreachable(p: Promise<unknown>): Promise<void> {
  const err = await p.then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(SandboxError);
  expect(err.message).toMatch(/permission denied|does not exist|not_found|no such file/i);
}

let a: Sandbox;
let b: Sandbox;
beforeAll(async () => {
  expect(host.isolation, `isolation unavailable: ${host.isolation.reason}`).toEqual({ enabled: true });
  [a, b] = await Promise.all([create(), create()]);
});

describe('identity inside a sandbox', () => {
  it('runs commands as `user` in /home/user by default', async () => {
    const r = await a.commands.run('id -un; id -u; pwd; echo $HOME');
    expect(r.stdout.split('\n').slice(0, 4)).toEqual(['user', '1000', '/home/user', '/home/user']);
  });

  it('runs as root when the SDK asks for user root', async () => {
    const r = await a.commands.run('id -un; echo $HOME', { user: 'root' });
    expect(r.stdout).toBe('root\n/root\n');
  });

  it('lets user run sudo without a password', async () => {
    expect((await a.commands.run('sudo -n true')).exitCode).toBe(0);
    expect((await a.commands.run('sudo -n id -un')).stdout).toBe('root\n');
  });
});

describe('attacks from sandbox A', () => {
  it('cannot read B\'s files by sandbox path, host path or search', async () => {
    const secret = `b-secret-${randomBytes(6).toString('hex')}`;
    await b.files.write('/home/user/b-secret.txt', secret);
    await b.commands.run(`echo ${secret} > /tmp/b-secret.txt`);
    const hostHome = path.join(host.root, b.sandboxId, 'home');
    for (const cmd of ['cat /home/user/b-secret.txt', 'cat /tmp/b-secret.txt', `cat ${hostHome}/b-secret.txt`, `ls ${host.root}`]) {
      const r = await attempt(a, cmd);
      expect(r.exitCode, cmd).not.toBe(0);
      expect(r.stdout).not.toContain(secret);
    }
    const found = await attempt(a, 'sudo -n find / -xdev -name "b-secret*" 2>/dev/null; sudo -n grep -rls --exclude-dir=proc --exclude-dir=sys ' + secret + ' /home /tmp /run /root 2>/dev/null');
    expect(found.stdout).toBe('');
  });

  it('cannot write B\'s files, not even as root through the host path', async () => {
    await b.files.write('/home/user/b-owned.txt', 'original');
    const target = path.join(host.root, b.sandboxId, 'home', 'b-owned.txt');
    const r = await attempt(a, `echo changed > ${target}; sudo -n sh -c 'echo changed > ${target}'`);
    expect(r.stderr).toMatch(/No such file or directory/);
    expect(await b.files.read('/home/user/b-owned.txt')).toBe('original');
  });

  it('cannot see or kill B\'s processes, even with kill -9 -1 as root', async () => {
    const victim = await b.commands.run('sleep 300', { background: true, timeoutMs: 0 });
    const ps = await a.commands.run('ps -eo pid=,args=');
    expect(ps.stdout).not.toContain('sleep 300');
    expect((await attempt(a, `kill -9 ${victim.pid}`)).exitCode).not.toBe(0);
    expect((await attempt(a, `kill -9 ${process.pid}`, 'root')).exitCode).not.toBe(0);
    // Root killing everything it can see ends its own sandbox (as it would end envd in E2B), nothing else.
    const wrecker = await create();
    await attempt(wrecker, 'sudo -n kill -9 -1');
    await waitFor(async () => !(await wrecker.isRunning()));
    expect((await b.commands.run(`kill -0 ${victim.pid} && echo alive`)).stdout).toBe('alive\n');
    expect(await a.isRunning()).toBe(true);
    await victim.kill();
  });

  it('cannot read the project directory or a secret planted in the host\'s state dir', async () => {
    const token = `planted-${randomBytes(8).toString('hex')}`;
    const planted = path.join(host.root, 'planted-secret.txt');
    await writeFile(planted, token);
    const project = process.cwd();
    for (const cmd of [`cat ${planted}`, `ls ${project}`, `cat ${project}/package.json`, `cat ${project}/.dev.vars`, `cat ${project}/.local/stack.json`]) {
      for (const prefix of ['', 'sudo -n ']) {
        const r = await attempt(a, prefix + cmd);
        expect(r.exitCode, prefix + cmd).not.toBe(0);
        expect(r.stdout).not.toContain(token);
      }
    }
    const search = await attempt(a, `sudo -n grep -rls --exclude-dir=proc --exclude-dir=sys --exclude-dir=usr ${token} / 2>/dev/null`);
    expect(search.stdout).toBe('');
  });

  it('cannot write outside /home/user and /tmp as user, nor into system dirs as root', async () => {
    for (const p of ['/etc/x', '/usr/x', '/usr/bin/x', '/x', '/root/x', '/var/lib/x', '/home/x']) {
      expect((await attempt(a, `touch ${p}`)).exitCode, p).not.toBe(0);
    }
    for (const p of ['/etc/x', '/usr/bin/x', '/x', '/lib/x']) {
      expect((await attempt(a, `touch ${p}`, 'root')).exitCode, `root ${p}`).not.toBe(0);
    }
    // Even after remounting /usr writable, the host's files belong to a uid the sandbox's root is not.
    const remount = await attempt(a, 'mount -o remount,rw,bind /usr && touch /usr/bin/pwned', 'root');
    expect(remount.exitCode).not.toBe(0);
    expect(existsSync('/usr/bin/pwned')).toBe(false);
  });

  it('cannot reach the host\'s files through the file API, symlinks included', async () => {
    await expectDenied(a.files.read('/etc/passwd'));
    await expectDenied(a.files.write('/etc/x', 'x'));
    await expectDenied(a.files.write('/usr/local/x', 'x', { user: 'root' }));
    await expectDenied(a.files.list('/'));
    await expectDenied(a.files.makeDir('/opt/x'));
    // Symlink targets are read in the sandbox's namespace: host paths mean nothing there.
    await a.commands.run(`ln -sfn ${process.cwd()} /home/user/project; ln -sfn ${host.root} /home/user/hostroot; ln -sfn /etc /home/user/etc`);
    // The project's path means nothing in the sandbox: refused outside /home/user and /tmp, absent
    // inside them (a checkout under the host's /tmp lands in the sandbox's own, empty /tmp).
    await expectUnreachable(a.files.list('project'));
    await expectUnreachable(a.files.read('project/package.json'));
    await expectDenied(a.files.read('etc/passwd'));
    await expect(a.files.write('hostroot/escaped.txt', 'x')).resolves.toMatchObject({ path: `${host.root}/escaped.txt` });
    expect(existsSync(path.join(host.root, 'escaped.txt'))).toBe(false);
    expect((await a.commands.run(`cat ${host.root}/escaped.txt`)).stdout).toBe('x');
  });
});

describe('one filesystem for commands and the file API', () => {
  it('shows a file written through the API to commands at the same path, and the other way round', async () => {
    const w = await a.files.write('/home/user/api.txt', 'from the api');
    expect(w.path).toBe('/home/user/api.txt');
    expect((await a.commands.run('cat /home/user/api.txt')).stdout).toBe('from the api');
    await a.commands.run('echo from a command > /tmp/cmd.txt');
    expect(await a.files.read('/tmp/cmd.txt')).toBe('from a command\n');
    expect((await a.files.list('/tmp')).map((e) => e.path)).toContain('/tmp/cmd.txt');
    await a.commands.run('ln -sfn /tmp /home/user/tmp-link');
    expect(await a.files.read('tmp-link/cmd.txt')).toBe('from a command\n');
  });

  it('gives files written through the API to the requesting user', async () => {
    await a.files.write('/tmp/as-user.txt', 'u');
    await a.files.write('/tmp/as-root.txt', 'r', { user: 'root' });
    await a.files.makeDir('/home/user/made/deep');
    const r = await a.commands.run('stat -c %U /tmp/as-user.txt /tmp/as-root.txt /home/user/made /home/user/made/deep');
    expect(r.stdout).toBe('user\nroot\nuser\nuser\n');
    expect((await a.files.getInfo('/tmp/as-root.txt')).owner).toBe('root');
  });

  it('round-trips file metadata through user.e2b.* xattrs', async () => {
    const w = await a.files.write('meta.txt', 'm', { metadata: { owner: 'agent-7', purpose: 'test' } });
    expect(w.metadata).toEqual({ owner: 'agent-7', purpose: 'test' });
    expect((await a.files.getInfo('meta.txt')).metadata).toEqual({ owner: 'agent-7', purpose: 'test' });
    const inside = await a.commands.run(`python3 -c "import os; print(os.getxattr('/home/user/meta.txt', 'user.e2b.owner').decode())"`);
    expect(inside.stdout).toBe('agent-7\n');
  });
});

describe('terminals, metrics and kill', () => {
  it('gives sandbox.pty a real terminal whose resize is seen by stty size', async () => {
    let out = '';
    const term = await a.pty.create({ cols: 80, rows: 24, onData: (d) => { out += new TextDecoder().decode(d); } });
    await a.pty.sendInput(term.pid, new TextEncoder().encode('stty size\n'));
    await waitFor(() => out.includes('24 80'));
    await a.pty.resize(term.pid, { cols: 132, rows: 43 });
    await a.pty.sendInput(term.pid, new TextEncoder().encode('stty size; tty; exit\n'));
    await term.wait().catch(() => undefined);
    expect(out).toContain('43 132');
    expect(out).toMatch(/\/dev\/pts\/\d+/);
  });

  it('reports real CPU and memory samples for the asked range', async () => {
    const sbx = await create();
    const from = new Date();
    await sbx.commands.run('timeout 2 sh -c "while :; do :; done" & python3 -c "b = bytearray(64 << 20); import time; time.sleep(2)"; wait');
    await new Promise((r) => setTimeout(r, 700));
    const samples = await sbx.getMetrics({ start: from, end: new Date() });
    expect(samples.length).toBeGreaterThan(0);
    expect(Math.max(...samples.map((m) => m.cpuUsedPct))).toBeGreaterThan(10);
    expect(Math.max(...samples.map((m) => m.memUsed))).toBeGreaterThan(60 << 20);
    expect(await sbx.getMetrics({ start: new Date(0), end: new Date(from.getTime() - 60_000) })).toEqual([]);
  });

  it('leaves no process of a killed sandbox on the host, daemons and terminals included', async () => {
    const sbx = await create();
    const ns = await pidNamespace(sbx);
    await sbx.commands.run('sleep 300', { background: true, timeoutMs: 0 });
    await sbx.commands.run('setsid nohup sleep 301 >/dev/null 2>&1 & sudo -n setsid sleep 302 >/dev/null 2>&1 &');
    await sbx.pty.create({ cols: 80, rows: 24, onData: () => {} });
    expect((await processesIn(ns)).length).toBeGreaterThanOrEqual(5);
    await sbx.kill();
    await waitFor(async () => (await processesIn(ns)).length === 0);
  });
});
