// Conformance of the local E2B-compatible host's envd side (processes, files, wire details), driven
// by the real, unmodified `e2b` SDK exactly as the Worker uses it (apiUrl = sandboxUrl = host.url).
import { beforeAll, describe, expect, it } from 'vitest';
import { CommandExitError, FileNotFoundError, InvalidArgumentError, NotFoundError, Sandbox, SandboxError, TimeoutError } from 'e2b';
import { host, opts, create, isAliveIn, pidNamespace, waitFor, useLocalHost } from './helpers/e2b-host-setup.ts';

useLocalHost();

describe('commands', () => {
  let sbx: Sandbox;
  let home: string;
  let ns: string;
  beforeAll(async () => {
    sbx = await create({ envs: { SBX_VAR: 'from-create', OVERRIDE: 'create' } });
    home = (await sbx.commands.run('echo $HOME')).stdout.trim();
    ns = await pidNamespace(sbx);
  });

  it('runs a command with separate stdout and stderr and exit code 0', async () => {
    const r = await sbx.commands.run('echo hi; echo err >&2');
    expect(r).toMatchObject({ exitCode: 0, stdout: 'hi\n', stderr: 'err\n' });
  });

  it('uses HOME (/home/user when isolated, a host dir of its own otherwise) as the default cwd', async () => {
    if (host.isolation.enabled) {
      expect(home).toBe('/home/user');
    } else {
      expect(home.startsWith(host.root + '/')).toBe(true);
      expect(home).toContain(sbx.sandboxId);
    }
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

  it('resolves a relative cwd against HOME and rejects a missing cwd with InvalidArgumentError', async () => {
    await sbx.commands.run('mkdir -p sub/dir');
    expect((await sbx.commands.run('pwd', { cwd: 'sub/dir' })).stdout.trim()).toBe(`${home}/sub/dir`);
    expect((await sbx.commands.run('pwd', { cwd: '~/sub' })).stdout.trim()).toBe(`${home}/sub`);
    await expect(sbx.commands.run('pwd', { cwd: 'nope' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(sbx.commands.run('pwd', { cwd: '/nonexistent/dir' })).rejects.toBeInstanceOf(InvalidArgumentError);
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
    expect(await isAliveIn(ns, h.pid)).toBe(true);
    const again = await sbx.commands.connect(h.pid);
    expect(await sbx.commands.kill(h.pid)).toBe(true);
    expect((await again.wait().catch((e) => e)).exitCode).toBe(-1);
    await waitFor(async () => !(await isAliveIn(ns, h.pid)));
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
    await waitFor(async () => !(await isAliveIn(ns, pid)));
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

  it('refuses paths outside HOME and /tmp with envd\'s permission-denied error, symlinks included', async () => {
    const denied = async (p: Promise<unknown>) => {
      const err = await p.then(() => undefined, (e) => e);
      expect(err).toBeInstanceOf(SandboxError);
      expect(err.message).toMatch(/permission denied/);
    };
    await denied(sbx.files.read('/etc/hostname'));
    await denied(sbx.files.write('../../escape.txt', 'x'));
    await denied(sbx.files.list('/'));
    await sbx.commands.run('ln -s /etc link-to-etc');
    await denied(sbx.files.read('link-to-etc/hostname'));
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
