// The local smart-HTTP git server: Basic token auth, clone/push with real git, nested repos,
// no secret in its log lines, and many concurrent clients.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBareRepo, startGitServer, type GitServerHandle } from '../../local/git-server.ts';

const TOKEN = `tok_${Math.random().toString(36).slice(2)}S3cret`;
const IDENTITY = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

let tmp: string;
let server: GitServerHandle;
const logLines: string[] = [];

/** Env that makes git send Basic auth with `token` through http.extraHeader (never in the URL). */
function authEnv(token: string | null, user = 'x-access-token'): Record<string, string> {
  const base = { ...process.env, ...IDENTITY, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } as Record<string, string>;
  if (token === null) return base;
  const header = `Authorization: Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
  return { ...base, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: header };
}

function git(args: string[], env: Record<string, string>, cwd?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('git', args, { env: env as NodeJS.ProcessEnv, cwd, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'gs-git-test-'));
  await createBareRepo(path.join(tmp, 'repos'), 'demo');
  await createBareRepo(path.join(tmp, 'repos'), 'acme/app', { 'hello.txt': 'hi\n' });
  server = await startGitServer({ root: path.join(tmp, 'repos'), token: TOKEN, log: (s) => logLines.push(s) });
});

afterAll(async () => {
  await server?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('local git server', () => {
  it('answers 401 with a Basic challenge when the token is missing', async () => {
    const res = await fetch(`${server.url}/demo.git/info/refs?service=git-upload-pack`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="git"');
  });

  it('answers 401 when the token is wrong', async () => {
    const auth = `Basic ${Buffer.from('x-access-token:wrong').toString('base64')}`;
    const res = await fetch(`${server.url}/demo.git/info/refs?service=git-upload-pack`, { headers: { authorization: auth } });
    expect(res.status).toBe(401);
  });

  it('refuses a real git clone without or with a wrong token', async () => {
    const none = await git(['ls-remote', `${server.url}/demo.git`], authEnv(null));
    const wrong = await git(['ls-remote', `${server.url}/demo.git`], authEnv('nope'));
    expect(none.code).not.toBe(0);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/401|Authentication failed|could not read/i);
  });

  it('clones the seeded demo repo with the right token', async () => {
    const dir = path.join(tmp, 'clone-demo');
    const r = await git(['clone', `${server.url}/demo.git`, dir], authEnv(TOKEN));
    expect(r.code, r.out).toBe(0);
    expect(await readFile(path.join(dir, 'src/app.js'), 'utf8')).toContain('greet');
    expect((await git(['rev-parse', '--abbrev-ref', 'HEAD'], authEnv(TOKEN), dir)).out.trim()).toBe('main');
  });

  it('accepts a push and serves the pushed commit to the next clone', async () => {
    const env = authEnv(TOKEN, 'any-user');
    const a = path.join(tmp, 'push-a');
    expect((await git(['clone', `${server.url}/acme/app.git`, a], env)).code).toBe(0);
    await writeFile(path.join(a, 'new.txt'), 'pushed\n');
    await git(['add', 'new.txt'], env, a);
    await git(['commit', '-m', 'add new.txt'], env, a);
    const push = await git(['push', 'origin', 'main'], env, a);
    expect(push.code, push.out).toBe(0);
    const b = path.join(tmp, 'push-b');
    expect((await git(['clone', `${server.url}/acme/app.git`, b], env)).code).toBe(0);
    expect(await readFile(path.join(b, 'new.txt'), 'utf8')).toBe('pushed\n');
  });

  it('never writes the token or the Authorization header to its log', () => {
    expect(logLines.length).toBeGreaterThan(0);
    const all = logLines.join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));
    expect(all.toLowerCase()).not.toContain('authorization');
  });

  it('serves 100 concurrent fetches and pushes to separate branches', async () => {
    const env = authEnv(TOKEN);
    const base = path.join(tmp, 'conc');
    expect((await git(['clone', `${server.url}/demo.git`, base], env)).code).toBe(0);
    await writeFile(path.join(base, 'c.txt'), 'c\n');
    await git(['add', 'c.txt'], env, base);
    await git(['commit', '-m', 'c'], env, base);
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        i % 2 === 0
          ? git(['push', `${server.url}/demo.git`, `HEAD:refs/heads/agent-${i}`], env, base)
          : git(['ls-remote', `${server.url}/demo.git`], env),
      ),
    );
    const failed = results.filter((r) => r.code !== 0);
    expect(failed.map((f) => f.out)).toEqual([]);
    const refs = await git(['ls-remote', '--heads', `${server.url}/demo.git`], env);
    expect(refs.out.match(/refs\/heads\/agent-/g)).toHaveLength(50);
  });

  it('accepts a gzip-encoded request body', async () => {
    const auth = `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`;
    const res = await fetch(`${server.url}/demo.git/git-upload-pack`, {
      method: 'POST',
      headers: {
        authorization: auth,
        'content-type': 'application/x-git-upload-pack-request',
        'content-encoding': 'gzip',
        'git-protocol': 'version=2',
      },
      body: gzipSync('0014command=ls-refs\n00010000'),
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/[0-9a-f]{40} refs\/heads\/main/);
  });

  it('does not serve paths that escape the repo root', async () => {
    const auth = `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`;
    const res = await fetch(`${server.url}/..%2F..%2Fetc.git/info/refs?service=git-upload-pack`, { headers: { authorization: auth } });
    expect(res.status).toBe(404);
  });
});
