// Conformance tests for the local E2B-compatible host (local/e2b-host), driven by the real,
// unmodified `e2b` SDK exactly as the Worker uses it (apiUrl = sandboxUrl = host.url).
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError, CommandExitError, FileNotFoundError, GitAuthError, InvalidArgumentError, NotFoundError,
  RateLimitError, Sandbox, SandboxError, SandboxNotFoundError, TimeoutError,
} from 'e2b';
import { startE2BHost, type E2BHost } from '../../local/e2b-host/index.ts';
import { startGitFixture, type GitFixture } from './helpers/e2b-git-fixture.ts';

let host: E2BHost;
let opts: { apiKey: string; apiUrl: string; sandboxUrl: string };
const cleanup: Sandbox[] = [];

async function create(extra: Parameters<typeof Sandbox.create>[1] = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create('base', { ...opts, timeoutMs: 120_000, ...extra });
  cleanup.push(sbx);
  return sbx;
}

/** Alive = exists and is not a zombie (PID 1 in a container may never reap orphans). */
async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  host = await startE2BHost();
  opts = { apiKey: host.apiKey, apiUrl: host.url, sandboxUrl: host.url };
});

afterAll(async () => {
  await Promise.all(cleanup.map((s) => s.kill().catch(() => {})));
  const root = host.root;
  await host.stop();
  expect(existsSync(root)).toBe(false);
});

describe('commands', () => {
  let sbx: Sandbox;
  let home: string;
  beforeAll(async () => {
    sbx = await create({ envs: { SBX_VAR: 'from-create', OVERRIDE: 'create' } });
    home = (await sbx.commands.run('echo $HOME')).stdout.trim();
  });

  it('runs a command with separate stdout and stderr and exit code 0', async () => {
    const r = await sbx.commands.run('echo hi; echo err >&2');
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hi\n', stderr: 'err\n' });
  });

  it('gives each sandbox its own HOME under the host root, used as the default cwd', async () => {
    expect(home.startsWith(host.root + '/')).toBe(true);
    expect(home).toContain(sbx.sandboxId);
    expect((await sbx.commands.run('pwd')).stdout.trim()).toBe(home);
  });

  it('applies create envVars to every process and lets request envs override them', async () => {
    const r = await sbx.commands.run('echo $SBX_VAR $OVERRIDE', { envs: { OVERRIDE: 'request' } });
    expect(r.stdout).toBe('from-create request\n');
  });

  it('returns CommandExitError with the exit code of a failing command', async () => {
    const err = await sbx.commands.run('echo out; echo bad >&2; exit 3').catch((e) => e);
    expect(err).toBeInstanceOf(CommandExitError);
    expect(err.exitCode).toBe(3);
    expect(err.stdout).toBe('out\n');
    expect(err.stderr).toBe('bad\n');
  });

  it('streams output through onStdout/onStderr callbacks', async () => {
    const out: string[] = [];
    const errs: string[] = [];
    await sbx.commands.run('for i in 1 2 3; do echo $i; echo e$i >&2; done', { onStdout: (d) => { out.push(d); }, onStderr: (d) => { errs.push(d); } });
    expect(out.join('')).toBe('1\n2\n3\n');
    expect(errs.join('')).toBe('e1\ne2\ne3\n');
  });

  it('resolves a relative cwd against HOME and rejects a missing or outside cwd with InvalidArgumentError', async () => {
    await sbx.commands.run('mkdir -p sub/dir');
    expect((await sbx.commands.run('pwd', { cwd: 'sub/dir' })).stdout.trim()).toBe(`${home}/sub/dir`);
    await expect(sbx.commands.run('pwd', { cwd: 'nope' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(sbx.commands.run('pwd', { cwd: '/etc' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('runs a background command, accepts stdin and kills it', async () => {
    let seen = '';
    const h = await sbx.commands.run('cat', { background: true, stdin: true, onStdout: (d) => { seen += d; } });
    expect((await sbx.commands.list()).map((p) => p.pid)).toContain(h.pid);
    await sbx.commands.sendStdin(h.pid, 'hello stdin\n');
    await waitFor(() => seen.includes('hello stdin'));
    expect(await h.kill()).toBe(true);
    const err = await h.wait().catch((e) => e);
    expect(err).toBeInstanceOf(CommandExitError);
    expect(err.exitCode).toBe(-1);
    expect(await sbx.commands.kill(h.pid)).toBe(false);
    expect((await sbx.commands.list()).map((p) => p.pid)).not.toContain(h.pid);
  });

  it('ends a command whose stdin is closed', async () => {
    const h = await sbx.commands.run('cat; echo done', { background: true, stdin: true });
    await sbx.commands.sendStdin(h.pid, 'x');
    await sbx.commands.closeStdin(h.pid);
    expect((await h.wait()).stdout).toBe('xdone\n');
  });

  it('keeps a background process running after the client disconnects and reconnects to it', async () => {
    const h = await sbx.commands.run('sleep 30', { background: true, timeoutMs: 0 });
    await h.disconnect();
    await new Promise((r) => setTimeout(r, 100));
    expect(await isAlive(h.pid)).toBe(true);
    const again = await sbx.commands.connect(h.pid);
    expect(await sbx.commands.kill(h.pid)).toBe(true);
    expect((await again.wait().catch((e) => e)).exitCode).toBe(-1);
    await waitFor(async () => !(await isAlive(h.pid)));
  });

  it('throws NotFoundError when connecting to an unknown pid', async () => {
    await expect(sbx.commands.connect(999_999)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('throws TimeoutError when a command exceeds timeoutMs and kills it on the host', async () => {
    const started = Date.now();
    const err = await sbx.commands.run('echo $$ > pid.txt; exec sleep 20', { timeoutMs: 700 }).catch((e) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
    const pid = Number((await sbx.files.read('pid.txt')).trim());
    await waitFor(async () => !(await isAlive(pid)));
  });

  it('delivers end even when a killed command left a grandchild in its group', async () => {
    const h = await sbx.commands.run('sleep 40 & sleep 40', { background: true, timeoutMs: 0 });
    await h.kill();
    expect((await h.wait().catch((e) => e)).exitCode).toBe(-1);
  });
});

describe('files', () => {
  let sbx: Sandbox;
  let home: string;
  beforeAll(async () => {
    sbx = await create();
    home = (await sbx.commands.run('echo $HOME')).stdout.trim();
  });

  it('writes, reads, stats and lists files visible to commands', async () => {
    const info = await sbx.files.write('dir/a.txt', 'hello file');
    expect(info.path).toBe(`${home}/dir/a.txt`);
    expect(await sbx.files.read(`${home}/dir/a.txt`)).toBe('hello file');
    expect((await sbx.commands.run('cat dir/a.txt')).stdout).toBe('hello file');
    const st = await sbx.files.getInfo('dir/a.txt');
    expect(st).toMatchObject({ name: 'a.txt', type: 'file', size: 10, mode: 0o644, permissions: '-rw-r--r--' });
    const entries = await sbx.files.list('dir');
    expect(entries.map((e) => [e.name, e.type])).toEqual([['a.txt', 'file']]);
    const bytes = await sbx.files.read('dir/a.txt', { format: 'bytes' });
    expect(Buffer.from(bytes).toString()).toBe('hello file');
  });

  it('uploads several files in one request with files.write([...])', async () => {
    const res = await sbx.files.write([
      { path: 'multi/one.txt', data: 'one' },
      { path: `${home}/multi/nested/two.txt`, data: new TextEncoder().encode('two').buffer as ArrayBuffer },
      { path: 'multi/three.bin', data: new Blob([new Uint8Array([0, 1, 2, 255])]) },
    ]);
    expect(res.map((r) => r.path)).toEqual([`${home}/multi/one.txt`, `${home}/multi/nested/two.txt`, `${home}/multi/three.bin`]);
    expect((await sbx.commands.run('cat multi/one.txt multi/nested/two.txt')).stdout).toBe('onetwo');
    expect([...(await sbx.files.read('multi/three.bin', { format: 'bytes' }))]).toEqual([0, 1, 2, 255]);
    const deep = await sbx.files.list('multi', { depth: 2 });
    expect(deep.map((e) => e.path)).toEqual([
      `${home}/multi/nested`, `${home}/multi/nested/two.txt`, `${home}/multi/one.txt`, `${home}/multi/three.bin`,
    ]);
  });

  it('accepts gzip and octet-stream uploads', async () => {
    await sbx.files.write('gz.txt', 'compressed body', { gzip: true });
    await sbx.files.write('raw.txt', 'raw body', { useOctetStream: true });
    expect(await sbx.files.read('gz.txt')).toBe('compressed body');
    expect(await sbx.files.read('raw.txt')).toBe('raw body');
  });

  it('reports exists, makeDir, rename and remove like envd', async () => {
    expect(await sbx.files.exists('nope.txt')).toBe(false);
    expect(await sbx.files.makeDir('made/deep')).toBe(true);
    expect(await sbx.files.makeDir('made/deep')).toBe(false);
    expect(await sbx.files.exists('made/deep')).toBe(true);
    await sbx.files.write('made/f.txt', 'x');
    const moved = await sbx.files.rename('made/f.txt', 'moved/g.txt');
    expect(moved.path).toBe(`${home}/moved/g.txt`);
    await sbx.files.remove('moved');
    expect(await sbx.files.exists('moved/g.txt')).toBe(false);
    await sbx.files.remove('never-existed');
  });

  it('throws FileNotFoundError for a missing file', async () => {
    await expect(sbx.files.read('missing.txt')).rejects.toBeInstanceOf(FileNotFoundError);
    await expect(sbx.files.getInfo('missing.txt')).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('refuses paths outside the sandbox directory', async () => {
    await expect(sbx.files.read('/etc/hostname')).rejects.toThrow(/outside the sandbox/);
    await expect(sbx.files.write('../../escape.txt', 'x')).rejects.toThrow(/outside the sandbox/);
    await expect(sbx.files.list('/')).rejects.toThrow(/outside the sandbox/);
    await sbx.commands.run('ln -s /etc link-to-etc');
    await expect(sbx.files.read('link-to-etc/hostname')).rejects.toThrow(/outside the sandbox/);
  });

  it('streams directory events through watchDir', async () => {
    const events: string[] = [];
    const handle = await sbx.files.watchDir('.', (e) => { events.push(`${e.type}:${e.name}`); });
    await sbx.files.write('watched.txt', 'w');
    await waitFor(() => events.includes('create:watched.txt'));
    await handle.stop();
  });
});

describe('wire protocol details', () => {
  let sbx: Sandbox;
  let headers: Record<string, string>;
  beforeAll(async () => {
    sbx = await create();
    const info = await Sandbox.connect(sbx.sandboxId, opts);
    headers = { 'e2b-sandbox-id': sbx.sandboxId, 'e2b-sandbox-port': '49983', 'x-access-token': (info as unknown as { envdAccessToken: string }).envdAccessToken };
  });

  function frames(buf: Buffer): Array<{ flags: number; json: any }> {
    const out: Array<{ flags: number; json: any }> = [];
    for (let o = 0; o + 5 <= buf.length;) {
      const len = buf.readUInt32BE(o + 1);
      out.push({ flags: buf[o], json: JSON.parse(buf.subarray(o + 5, o + 5 + len).toString()) });
      o += 5 + len;
    }
    return out;
  }

  function env(msg: unknown): Buffer {
    const j = Buffer.from(JSON.stringify(msg));
    const h = Buffer.alloc(5);
    h.writeUInt32BE(j.length, 1);
    return Buffer.concat([h, j]);
  }

  it('frames a Start stream as start, base64 data, keepalive, end and a 0x02 trailer', async () => {
    const res = await fetch(`${host.url}/process.Process/Start`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/connect+json', 'connect-protocol-version': '1', 'keepalive-ping-interval': '1' },
      body: env({ process: { cmd: '/bin/bash', args: ['-l', '-c', 'echo out; echo err >&2; sleep 1.3; exit 4'] }, stdin: false }),
    });
    expect(res.headers.get('content-type')).toBe('application/connect+json');
    const f = frames(Buffer.from(await res.arrayBuffer()));
    expect(Object.keys(f[0].json.event)).toEqual(['start']);
    const stdout = f.filter((x) => x.json.event?.data?.stdout).map((x) => Buffer.from(x.json.event.data.stdout, 'base64').toString()).join('');
    const stderr = f.filter((x) => x.json.event?.data?.stderr).map((x) => Buffer.from(x.json.event.data.stderr, 'base64').toString()).join('');
    expect([stdout, stderr]).toEqual(['out\n', 'err\n']);
    expect(f.some((x) => x.json.event?.keepalive)).toBe(true);
    expect(f[f.length - 2].json.event.end).toMatchObject({ exitCode: 4, exited: true, status: 'exit status 4' });
    expect(f[f.length - 1]).toEqual({ flags: 2, json: {} });
  });

  it('accepts a chunked multipart upload without the trailing CRLF (workerd style)', async () => {
    const b = 'XyZboundary';
    const body = `--${b}\r\nContent-Disposition: form-data; name="file"; filename="wk/one.txt"\r\nContent-Type: application/octet-stream\r\n\r\nfirst\r\n`
      + `--${b}\r\nContent-Disposition: form-data; name="file"; filename="wk/two.txt"\r\nContent-Type: application/octet-stream\r\n\r\nsecond\r\n--${b}--`;
    const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(body.slice(0, 40))); c.enqueue(new TextEncoder().encode(body.slice(40))); c.close(); } });
    const res = await fetch(`${host.url}/files`, { method: 'POST', headers: { ...headers, 'content-type': `multipart/form-data; boundary=${b}` }, body: stream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Array<{ name: string }>).map((x) => x.name)).toEqual(['one.txt', 'two.txt']);
    expect(await sbx.files.read('wk/two.txt')).toBe('second');
  });

  it('serves signed upload and download URLs that carry no routing headers', async () => {
    const up = await sbx.uploadUrl('signed/u.txt');
    const form = new FormData();
    form.append('file', new Blob(['signed body']), 'signed/u.txt');
    expect((await fetch(up, { method: 'POST', body: form })).status).toBe(200);
    const down = await sbx.downloadUrl('signed/u.txt');
    expect(await (await fetch(down)).text()).toBe('signed body');
    expect((await fetch(down.replace(/signature=[^&]+/, 'signature=v1_bad'))).status).toBe(401);
  });

  it('answers envd requests for unknown sandboxes with 502', async () => {
    const res = await fetch(`${host.url}/health`, { headers: { 'e2b-sandbox-id': 'doesnotexist', 'x-access-token': 'x' } });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { code: number }).code).toBe(502);
  });
});

describe('control plane', () => {
  it('lists sandboxes filtered by metadata across pages', async () => {
    const suite = `list-${Date.now()}`;
    const made = await Promise.all([1, 2, 3].map((i) => create({ metadata: { suite, i: String(i) } })));
    await create({ metadata: { suite: 'other' } });
    const pager = Sandbox.list({ ...opts, query: { metadata: { suite } }, limit: 2 });
    const first = await pager.nextItems();
    expect(first).toHaveLength(2);
    expect(pager.hasNext).toBe(true);
    const second = await pager.nextItems();
    expect(second).toHaveLength(1);
    expect(pager.hasNext).toBe(false);
    const ids = [...first, ...second].map((s) => s.sandboxId).sort();
    expect(ids).toEqual(made.map((s) => s.sandboxId).sort());
    expect(first[0].metadata.suite).toBe(suite);
    expect(first[0].state).toBe('running');
  });

  it('kills a sandbox: isRunning false, SandboxNotFoundError afterwards, second kill false', async () => {
    const sbx = await create();
    const h = await sbx.commands.run('sleep 60', { background: true, timeoutMs: 0 });
    expect(await sbx.isRunning()).toBe(true);
    expect(await sbx.kill()).toBe(true);
    expect(await sbx.isRunning()).toBe(false);
    await expect(sbx.getInfo()).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(sbx.setTimeout(10_000)).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(Sandbox.connect(sbx.sandboxId, opts)).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(sbx.commands.run('true')).rejects.toBeInstanceOf(SandboxNotFoundError);
    expect(await Sandbox.kill(sbx.sandboxId, opts)).toBe(false);
    await waitFor(async () => !(await isAlive(h.pid)));
  });

  it('cuts in-flight command streams when the sandbox is killed, like a dead VM (TimeoutError)', async () => {
    const sbx = await create();
    const running = sbx.commands.run('sleep 30').catch((e) => e);
    await new Promise((r) => setTimeout(r, 200));
    await Sandbox.kill(sbx.sandboxId, opts);
    const err = await running;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toMatch(/killed or reached its end of life/);
  });

  it('expires a sandbox at its deadline: processes dead, then SandboxNotFoundError', async () => {
    const sbx = await create({ timeoutMs: 1_500 });
    const extended = await create({ timeoutMs: 1_500 });
    await extended.setTimeout(30_000);
    const home = (await sbx.commands.run('echo $HOME')).stdout.trim();
    const h = await sbx.commands.run('sleep 60', { background: true, timeoutMs: 0 });
    const info = await sbx.getInfo();
    expect(info.endAt.getTime() - info.startedAt.getTime()).toBeLessThanOrEqual(2_000);
    await new Promise((r) => setTimeout(r, 2_200));
    await expect(sbx.getInfo()).rejects.toBeInstanceOf(SandboxNotFoundError);
    expect(await sbx.isRunning()).toBe(false);
    await waitFor(async () => !(await isAlive(h.pid)));
    await waitFor(() => !existsSync(home));
    expect((await extended.getInfo()).state).toBe('running');
  });

  it('pauses and resumes through connect', async () => {
    const sbx = await create();
    await sbx.files.write('keep.txt', 'kept');
    expect(await sbx.pause()).toBe(true);
    expect(await sbx.pause()).toBe(false);
    expect((await Sandbox.getInfo(sbx.sandboxId, opts)).state).toBe('paused');
    expect(await sbx.isRunning()).toBe(false);
    const again = await Sandbox.connect(sbx.sandboxId, opts);
    expect((await again.getInfo()).state).toBe('running');
    expect((await again.commands.run('cat keep.txt')).stdout).toBe('kept');
  });

  it('rejects a bad API key with AuthenticationError and a bad envd token with 401', async () => {
    await expect(Sandbox.create('base', { ...opts, apiKey: 'wrong' })).rejects.toBeInstanceOf(AuthenticationError);
    const sbx = await create();
    const res = await fetch(`${host.url}/process.Process/List`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'e2b-sandbox-id': sbx.sandboxId, 'x-access-token': 'nope' },
      body: '{}',
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('unauthenticated');
  });

  it('fails the next N creates on request, programmatically and via the admin endpoint', async () => {
    host.failNextCreates(1);
    await expect(Sandbox.create('base', opts)).rejects.toBeInstanceOf(SandboxError);
    const denied = await fetch(`${host.url}/_local/fail-next-creates`, { method: 'POST', body: '{"count":1}' });
    expect(denied.status).toBe(401);
    const ok = await fetch(`${host.url}/_local/fail-next-creates`, {
      method: 'POST', headers: { 'x-api-key': host.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ count: 2 }),
    });
    expect(ok.status).toBe(200);
    await expect(Sandbox.create('base', opts)).rejects.toThrow(/injected create failure/);
    await expect(Sandbox.create('base', opts)).rejects.toThrow(/500/);
    expect(await (await create()).isRunning()).toBe(true);
  });

  it('honours the create latency', async () => {
    host.setCreateLatency(400);
    const t0 = Date.now();
    await create();
    host.setCreateLatency(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
  });

  it('answers 429 with Retry-After at the concurrency cap', async () => {
    const capped = await startE2BHost({ maxSandboxes: 2 });
    try {
      const o = { apiKey: capped.apiKey, apiUrl: capped.url, sandboxUrl: capped.url, retries: 0 };
      const [a] = await Promise.all([Sandbox.create('base', o), Sandbox.create('base', o)]);
      await expect(Sandbox.create('base', o)).rejects.toBeInstanceOf(RateLimitError);
      const raw = await fetch(`${capped.url}/v2/sandboxes`, { method: 'POST', headers: { 'x-api-key': capped.apiKey }, body: '{"templateID":"base"}' });
      expect(raw.status).toBe(429);
      expect(raw.headers.get('retry-after')).toBe('1');
      expect(((await raw.json()) as { code: number }).code).toBe(429);
      await a.kill();
      expect(capped.sandboxCount()).toBe(1);
      await Sandbox.create('base', o);
      expect(capped.sandboxCount()).toBe(2);
    } finally {
      await capped.stop();
    }
  });
});

describe('git and isolation', () => {
  let git: GitFixture;
  const token = 'tok_' + Math.random().toString(36).slice(2);
  beforeAll(async () => { git = await startGitFixture(token); });
  afterAll(async () => { await git.stop(); });

  it('clones, commits and pushes with sandbox.git against a token-protected smart-HTTP remote', async () => {
    await git.createRepo('demo');
    const sbx = await create();
    const remote = `${git.url}/demo.git`;
    await sbx.git.clone(remote, { path: 'demo', username: 'x-access-token', password: token });
    expect((await sbx.commands.run('git -C demo remote get-url origin')).stdout.trim()).toBe(remote);
    await sbx.git.configureUser('Agent Smith', 'agent@example.com');
    expect((await sbx.commands.run('cat ~/.gitconfig')).stdout).toContain('Agent Smith');
    await sbx.files.write('demo/feature.txt', 'new feature\n');
    await sbx.git.add('demo');
    await sbx.git.commit('demo', 'add feature');
    await sbx.git.push('demo', { username: 'x-access-token', password: token, remote: 'origin', branch: 'main' });
    expect((await git.git('demo', 'log', '--format=%s %an', 'main')).trim().split('\n')).toEqual(['add feature Agent Smith', 'initial commit Seed']);
    expect((await sbx.commands.run('git -C demo remote get-url origin')).stdout.trim()).toBe(remote);
    // With explicit credentials the SDK's push surfaces git's own failure (only clone maps it).
    const pushErr = await sbx.git.push('demo', { username: 'x-access-token', password: 'wrong-token', remote: 'origin', branch: 'main' }).catch((e) => e);
    expect(pushErr).toBeInstanceOf(CommandExitError);
    expect(pushErr.stderr).toMatch(/Authentication failed/i);
    await expect(sbx.git.clone(remote, { path: 'denied', username: 'x-access-token', password: 'wrong-token' }))
      .rejects.toBeInstanceOf(GitAuthError);
  });

  it('runs 50 sandboxes concurrently with no cross-talk between files or HOME', async () => {
    const boxes = await Promise.all(Array.from({ length: 50 }, () => create({ timeoutMs: 60_000 })));
    const results = await Promise.all(boxes.map(async (sbx, i) => {
      await sbx.commands.run(`echo ${sbx.sandboxId} > mine-${i}.txt && git config --global user.name box-${i}`);
      const [ls, home, name, file] = await Promise.all([
        sbx.commands.run('ls'),
        sbx.commands.run('echo $HOME'),
        sbx.commands.run('git config --global --get user.name'),
        sbx.files.read(`mine-${i}.txt`),
      ]);
      return { i, id: sbx.sandboxId, ls: ls.stdout.trim(), home: home.stdout.trim(), name: name.stdout.trim(), file: file.trim() };
    }));
    const homes = new Set(results.map((r) => r.home));
    expect(homes.size).toBe(50);
    for (const r of results) {
      expect(r.ls).toBe(`mine-${r.i}.txt`);
      expect(r.file).toBe(r.id);
      expect(r.name).toBe(`box-${r.i}`);
      expect(r.home).toContain(r.id);
    }
    await Promise.all(boxes.map((b) => b.kill()));
  });
});
