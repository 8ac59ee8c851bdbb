// The local git server's pull request stand-in, driven by the service's own GitHub client
// (src/github) with real git on its bare repos: create, list, update, the three merge methods,
// refusals, auto-merge held back by a required check, and both credentials as a bearer.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBareRepo, repoPath, startGitServer, type GitServerHandle } from '../../local/git-server.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { githubClient, graphqlUrl, type GitHubClient } from '../../src/github/client.ts';
import { createPull, enableAutoMerge, findOpenPull, getPull, mergePull, updatePull } from '../../src/github/pulls.ts';
import { parseRepoUrl } from '../../src/git/validate.ts';

const TOKEN = `tok_${Math.random().toString(36).slice(2)}`;
const IDENTITY = { GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.invalid', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.invalid' };
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const APP_ID = '4242';

let tmp: string;
let root: string;
let server: GitServerHandle;
let n = 0;

function git(args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...IDENTITY } as NodeJS.ProcessEnv;
    execFile('git', args, { cwd, env }, (err, stdout, stderr) => (err ? reject(new Error(`git ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim())));
  });
}

/** A fresh bare repo `acme/<name>` with main, and a clone to commit from. */
async function repo(files: Record<string, string> = { 'a.txt': 'one\n' }): Promise<{ name: string; bare: string; work: string }> {
  const name = `r${++n}`;
  const bare = await createBareRepo(root, `acme/${name}`, files);
  const work = path.join(tmp, `work-${name}`);
  await git(['clone', '-q', bare, work]);
  return { name, bare, work };
}

/** Commits `files` on `branch` (created from `from`) in the clone and pushes it; returns the head. */
async function branch(work: string, name: string, commits: Record<string, string>[], from = 'origin/main'): Promise<string> {
  await git(['checkout', '-q', '-B', name, from], work);
  for (const [i, files] of commits.entries()) {
    for (const [f, text] of Object.entries(files)) await writeFile(path.join(work, f), text);
    await git(['add', '-A'], work);
    await git(['commit', '-q', '-m', `${name} commit ${i + 1}`], work);
  }
  await git(['push', '-q', '-f', 'origin', `HEAD:refs/heads/${name}`], work);
  return git(['rev-parse', 'HEAD'], work);
}

const cfgToken = (): Config => parseConfig({ GIT_TOKEN: TOKEN, GITHUB_API_URL: `${server.url}/api` });
const cfgApp = (): Config => parseConfig({ GITHUB_APP_ID: APP_ID, GITHUB_APP_PRIVATE_KEY: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), GITHUB_API_URL: `${server.url}/api` });
const client = (name: string, cfg = cfgToken()): Promise<GitHubClient> => githubClient(cfg, parseRepoUrl(`${server.url}/acme/${name}.git`));
const remote = (bare: string, ...args: string[]) => git(['--git-dir', bare, ...args]);

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'gs-pulls-'));
  root = path.join(tmp, 'repos');
  server = await startGitServer({ root, token: TOKEN, app: { id: APP_ID, publicKeyPem: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString() } });
});

afterAll(async () => {
  await server?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('the pull request stand-in', () => {
  it('derives the GraphQL endpoint from the REST base (github.com, GHES, local)', () => {
    expect(graphqlUrl('https://api.github.com')).toBe('https://api.github.com/graphql');
    expect(graphqlUrl('https://ghe.example/api/v3/')).toBe('https://ghe.example/api/graphql');
    expect(graphqlUrl('http://127.0.0.1:9/api')).toBe('http://127.0.0.1:9/api/graphql');
  });

  it('creates, lists, updates and reads a pull request, and refuses a duplicate and an empty one', async () => {
    const r = await repo();
    const head = await branch(r.work, 'agent/a/t', [{ 'b.txt': 'b\n' }]);
    const gh = await client(r.name);
    expect(await findOpenPull(gh, 'agent/a/t', 'main')).toBeNull();
    const made = await createPull(gh, { head: 'agent/a/t', base: 'main', title: 'Add b', body: 'why', draft: true });
    if (made.kind !== 'created') throw new Error(JSON.stringify(made));
    expect(made.pull).toMatchObject({ number: 1, state: 'open', draft: true, autoMerge: false, headBranch: 'agent/a/t', baseBranch: 'main', headSha: head, mergeCommitSha: null });
    expect(made.pull.url).toBe(`${server.url}/acme/${r.name}/pull/1`);
    expect(await createPull(gh, { head: 'agent/a/t', base: 'main', title: 'again' })).toEqual({ kind: 'exists' });
    await branch(r.work, 'agent/a/empty', []);
    expect(await createPull(gh, { head: 'agent/a/empty', base: 'main', title: 'nothing' })).toEqual({ kind: 'no_commits' });
    expect((await findOpenPull(gh, 'agent/a/t', 'main'))?.number).toBe(1);
    const moved = await branch(r.work, 'agent/a/t', [{ 'b.txt': 'b2\n' }], 'agent/a/t');
    const updated = await updatePull(gh, 1, { title: 'Add b, v2' });
    expect(updated.headSha).toBe(moved);
    const raw = await gh.rest('GET /repos/{owner}/{repo}/pulls/{pull_number}', { pull_number: 1 });
    expect(raw.data).toMatchObject({ title: 'Add b, v2', body: 'why', mergeable: true, mergeable_state: 'clean' });
    expect(await getPull(gh, 99)).toBeNull();
  });

  it('merges with a merge commit, a squash or a rebase, really moving the base', async () => {
    const r = await repo();
    const gh = await client(r.name);
    const shapes: Record<string, { parents: number; added: number }> = {};
    for (const method of ['merge', 'squash', 'rebase'] as const) {
      const name = `agent/a/${method}`;
      await git(['fetch', '-q', 'origin'], r.work);
      await branch(r.work, name, [{ [`${method}-1.txt`]: '1\n' }, { [`${method}-2.txt`]: '2\n' }]);
      const made = await createPull(gh, { head: name, base: 'main', title: `by ${method}` });
      if (made.kind !== 'created') throw new Error(JSON.stringify(made));
      const before = await remote(r.bare, 'rev-parse', 'main');
      const m = await mergePull(gh, made.pull.number, method, made.pull.headSha ?? undefined);
      if (m.kind !== 'merged') throw new Error(JSON.stringify(m));
      expect(await remote(r.bare, 'rev-parse', 'main')).toBe(m.sha);
      shapes[method] = {
        parents: (await remote(r.bare, 'rev-list', '--parents', '-n', '1', m.sha)).split(' ').length - 1,
        added: Number(await remote(r.bare, 'rev-list', '--count', '--first-parent', `${before}..${m.sha}`)),
      };
      expect(await getPull(gh, made.pull.number)).toMatchObject({ state: 'merged', mergeCommitSha: m.sha });
    }
    expect(shapes).toEqual({ merge: { parents: 2, added: 1 }, squash: { parents: 1, added: 1 }, rebase: { parents: 1, added: 2 } });
    expect(await remote(r.bare, 'log', '-1', '--format=%an|%cn|%s', 'main~2')).toBe('Ada|GitHub|by squash (#2)');
  });

  it('refuses a conflicting merge (405) and a merge at a moved head (409), leaving the base alone', async () => {
    const r = await repo();
    const gh = await client(r.name);
    await branch(r.work, 'agent/a/x', [{ 'a.txt': 'from x\n' }]);
    await branch(r.work, 'agent/b/y', [{ 'a.txt': 'from y\n' }]);
    const x = await createPull(gh, { head: 'agent/a/x', base: 'main', title: 'x' });
    const y = await createPull(gh, { head: 'agent/b/y', base: 'main', title: 'y' });
    if (x.kind !== 'created' || y.kind !== 'created') throw new Error('not created');
    expect(await mergePull(gh, x.pull.number, 'merge', 'f'.repeat(40))).toMatchObject({ kind: 'refused', status: 409 });
    expect((await mergePull(gh, x.pull.number, 'merge')).kind).toBe('merged');
    const tip = await remote(r.bare, 'rev-parse', 'main');
    expect(await mergePull(gh, y.pull.number, 'squash')).toMatchObject({ kind: 'refused', status: 405 });
    expect(await remote(r.bare, 'rev-parse', 'main')).toBe(tip);
    const raw = await gh.rest('GET /repos/{owner}/{repo}/pulls/{pull_number}', { pull_number: y.pull.number });
    expect(raw.data).toMatchObject({ state: 'open', mergeable: false, mergeable_state: 'dirty' });
  });

  it('auto-merges once a required check passes, and merges at once (REST) a pull request GitHub calls clean', async () => {
    const r = await repo();
    const gh = await client(r.name);
    await remote(r.bare, 'config', 'github.requiredStatus', 'pending');
    await branch(r.work, 'agent/a/auto', [{ 'auto.txt': 'auto\n' }]);
    const made = await createPull(gh, { head: 'agent/a/auto', base: 'main', title: 'auto' });
    if (made.kind !== 'created') throw new Error(JSON.stringify(made));
    expect(await enableAutoMerge(gh, made.pull, 'squash')).toEqual({ kind: 'enabled' });
    expect(await getPull(gh, made.pull.number)).toMatchObject({ state: 'open', autoMerge: true });
    expect(await mergePull(gh, made.pull.number, 'squash')).toMatchObject({ kind: 'refused', status: 405 });
    await remote(r.bare, 'config', 'github.requiredStatus', 'success');
    const merged = await getPull(gh, made.pull.number);
    expect(merged).toMatchObject({ state: 'merged', autoMerge: false });
    expect(await remote(r.bare, 'rev-parse', 'main')).toBe(merged?.mergeCommitSha);

    await remote(r.bare, 'config', '--unset', 'github.requiredStatus');
    await git(['fetch', '-q', 'origin'], r.work);
    await branch(r.work, 'agent/a/clean', [{ 'clean.txt': 'clean\n' }]);
    const clean = await createPull(gh, { head: 'agent/a/clean', base: 'main', title: 'clean' });
    if (clean.kind !== 'created') throw new Error(JSON.stringify(clean));
    expect(await enableAutoMerge(gh, clean.pull, 'merge')).toEqual({ kind: 'merged' });
    expect((await getPull(gh, clean.pull.number))?.state).toBe('merged');
  });

  it('takes an App installation token as the bearer and refuses a wrong one', async () => {
    const r = await repo();
    await branch(r.work, 'agent/a/app', [{ 'app.txt': 'app\n' }]);
    const gh = await client(r.name, cfgApp());
    const made = await createPull(gh, { head: 'agent/a/app', base: 'main', title: 'via app' });
    expect(made.kind).toBe('created');
    const bad = await client(r.name, parseConfig({ GIT_TOKEN: 'wrong', GITHUB_API_URL: `${server.url}/api` }));
    const err = await findOpenPull(bad, 'agent/a/app', 'main').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROVIDER_ERROR' });
    expect(String((err as Error).message)).toContain('401');
    expect(repoPath(root, `acme/${r.name}`)).toBe(r.bare);
  });
});
