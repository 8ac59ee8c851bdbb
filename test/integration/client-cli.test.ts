// The typed client (git-sandbox/client) and the git-sandbox CLI against the Worker under test: a
// lease's whole workflow through each, typed errors, and a timed-out command.
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createClient, GitSandboxError, readFile, unwrap, writeFile, type ExecResult, type GitSandboxClient } from '../../client/index.ts';
import { env, newAgent, newRepo, oracle, remoteGit } from './helpers.ts';

/** A typed client whose requests go straight into the Worker under test. */
function client(apiKey: string): GitSandboxClient {
  return createClient({ baseUrl: 'http://worker.test', apiKey, fetch: (req) => exports.default.fetch(req) });
}

/** Runs the CLI in Node (through the oracle) against the Worker's loopback address. */
function cli(key: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return oracle('POST', '/cli', { args, env: { GIT_SANDBOX_URL: env.PUBLIC_URL, GIT_SANDBOX_KEY: key } });
}

describe('typed client', () => {
  it('leases, writes and reads a nested file, runs a command, pushes and releases', async () => {
    const repo = await newRepo();
    const api = client((await newAgent('cl')).key);
    const created = await api.POST('/v1/sandboxes', { body: { repo_url: repo.url, task_id: 'typed-client' } });
    const lease = unwrap(created);
    expect(created.response.status).toBe(201);
    expect(created.response.headers.get('location')).toBe(`/v1/sandboxes/${lease.id}`);

    expect(await writeFile(api, lease.id, 'docs/a b.txt', 'hello\n')).toEqual({ path: 'docs/a b.txt', bytes: 6 });
    const read = await readFile(api, lease.id, 'docs/a b.txt');
    expect([new TextDecoder().decode(read.bytes), read.truncated]).toEqual(['hello\n', false]);

    const status = unwrap(await api.GET('/v1/sandboxes/{id}/status', { params: { path: { id: lease.id } } }));
    expect(status.untracked).toEqual(['docs/a b.txt']);
    const ran = unwrap(await api.POST('/v1/sandboxes/{id}/exec', { params: { path: { id: lease.id } }, body: { command: 'cat "docs/a b.txt"; exit 3' } }));
    expect(ran).toMatchObject({ exit_code: 3, stdout: 'hello\n', timed_out: false });

    const pushed = unwrap(await api.POST('/v1/sandboxes/{id}/push', { params: { path: { id: lease.id } }, body: { message: 'add a b', target: 'base' } }));
    expect((await remoteGit(repo.name, 'rev-parse', 'main')).trim()).toBe(pushed.commit);

    const released = await api.DELETE('/v1/sandboxes/{id}', { params: { path: { id: lease.id } } });
    expect(released.response.status).toBe(204);
  });

  it('reports a timed-out command as timed_out with a plain message', async () => {
    const api = client((await newAgent('cl')).key);
    const lease = unwrap(await api.POST('/v1/sandboxes', { body: { repo_url: (await newRepo()).url, task_id: 'timeout' } }));
    // The exec operation also answers 202 (a background job) and event streams: this call gets the JSON result.
    const r = unwrap(await api.POST('/v1/sandboxes/{id}/exec', { params: { path: { id: lease.id } }, body: { command: 'echo started; sleep 30', timeout_ms: 500 } })) as ExecResult;
    expect(r).toMatchObject({ exit_code: 124, timed_out: true, stdout: 'started\n' });
    expect(r.stderr).toMatch(/^command timed out after 500 ms; it and every process it started were killed$/m);
    await api.DELETE('/v1/sandboxes/{id}', { params: { path: { id: lease.id } } });
  });

  it('throws the service error code for a failed call', async () => {
    const api = client((await newAgent('cl')).key);
    const r = await api.GET('/v1/sandboxes/{id}', { params: { path: { id: 'sbx_0123456789abcdef01234567' } } });
    expect(r.response.status).toBe(404);
    expect(r.error?.error.code).toBe('NOT_FOUND');
    expect(() => unwrap(r)).toThrow(GitSandboxError);
    const bad = await client('gsk_wrong').GET('/v1/sandboxes');
    expect([bad.response.status, bad.error?.error.code]).toEqual([401, 'UNAUTHORIZED']);
  });
});

describe('git-sandbox CLI', () => {
  it('leases, lists, runs a command with its exit code, pushes to the base and releases', async () => {
    const repo = await newRepo();
    const { key } = await newAgent('cli');
    const lease = await cli(key, 'lease', repo.url, '--task', 'cli-smoke');
    expect(lease.code, lease.stderr).toBe(0);
    const id = lease.stdout.trim();
    expect(id).toMatch(/^sbx_[0-9a-f]{24}$/);

    const ls = await cli(key, 'ls');
    expect(ls.stdout).toContain(id);
    const ran = await cli(key, 'exec', id, '--', 'echo from-cli > cli.txt && cat cli.txt && echo oops >&2 && exit 7');
    expect([ran.code, ran.stdout, ran.stderr]).toEqual([7, 'from-cli\n', 'oops\n']);

    const pushed = await cli(key, 'push', id, '-m', 'from the cli', '--base');
    expect(pushed.code, pushed.stderr).toBe(0);
    const [commit, target] = pushed.stdout.trim().split(' ');
    expect(target).toBe('main');
    expect((await remoteGit(repo.name, 'rev-parse', 'main')).trim()).toBe(commit);
    expect(await remoteGit(repo.name, 'show', 'main:cli.txt')).toBe('from-cli\n');

    const released = await cli(key, 'release', id);
    expect([released.code, released.stderr]).toEqual([0, `released ${id}\n`]);
    expect((await cli(key, 'ls', '--json')).stdout).toBe('[]\n');
  });

  it('says what is wrong with a bad key or bad arguments', async () => {
    const bad = await cli('gsk_wrong', 'ls');
    expect([bad.code, bad.stderr]).toEqual([1, 'git-sandbox: UNAUTHORIZED: invalid or revoked API key\n']);
    const usage = await cli('gsk_wrong', 'exec', 'sbx_0123456789abcdef01234567', 'ls');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/put the command after --/);
  });
});
