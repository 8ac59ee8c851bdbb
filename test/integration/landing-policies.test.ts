// Landing policies end to end, with real git against the bare repos: base pushes landed by rebase
// (linear), merge (two-parent merge commits) or squash (one commit per entry) in batches; pull
// requests opened, updated, auto-merged and merged on the local GitHub stand-in and followed to
// merged by the read path and the cron; conflicts and refusals typed in every mode.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/client.ts';
import worker from '../../src/worker.ts';
import { call, callJson, env, newAgent, newRepo, oracle, remoteGit, stack } from './helpers.ts';

type Lease = { id: string; agent_branch: string };

async function lease(key: string, repoUrl: string): Promise<Lease> {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}` } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as Lease;
}

async function put(key: string, id: string, path: string, content: string) {
  expect((await call('PUT', `/v1/sandboxes/${id}/files/${path}`, { key, raw: content })).status).toBe(200);
}

async function exec(key: string, id: string, command: string) {
  const r = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command } });
  expect(r.body.exit_code, JSON.stringify(r.body)).toBe(0);
  return r.body.stdout as string;
}

const push = (key: string, id: string, body: Record<string, unknown>) => callJson('POST', `/v1/sandboxes/${id}/push`, { key, body });
const parents = async (repo: string, c: string) => (await remoteGit(repo, 'rev-list', '--parents', '-n', '1', c)).trim().split(' ').slice(1);
const entryOf = async (repo: string, c: string) => (await remoteGit(repo, 'log', '-1', '--format=%(trailers:key=Git-Sandbox-Entry,valueonly)', c)).trim();

/** The stand-in's own view of a pull request, read with the static token as a bearer. */
async function upstreamPull(repo: string, n: number): Promise<Record<string, any>> {
  const r = await fetch(`${stack.github_api_url}/repos/local/${repo}/pulls/${n}`, { headers: { authorization: `Bearer ${stack.git_token}` } });
  expect(r.status).toBe(200);
  return r.json();
}

/** Makes the stored state of a lease's pull request look `ageS` seconds old, so the next read or poll refreshes it. */
async function age(leaseId: string, ageS: number): Promise<void> {
  const h = createDb(env);
  try {
    await h.db.execute(sql`update pull_requests set checked_at = now() - make_interval(secs => ${ageS}) where lease_id = ${leaseId}`);
  } finally {
    await h.close();
  }
}

describe('landing strategies for the base', () => {
  it('lands a concurrent mixed batch: rebase as linear commits, merge as two-parent merge commits, squash as one commit per entry', async () => {
    const repo = await newRepo({ 'seed.txt': 'seed\n' });
    const strategies = ['rebase', 'merge', 'squash', 'rebase', 'merge', 'squash'] as const;
    const agents = await Promise.all(strategies.map(() => newAgent('mix')));
    const leases = await Promise.all(agents.map((a) => lease(a.key, repo.url)));
    // Every entry holds two commits: one made with exec, one made by the push.
    await Promise.all(
      leases.map(async (l, i) => {
        await put(agents[i].key, l.id, `first-${i}.txt`, `${i}\n`);
        await exec(agents[i].key, l.id, `git add -A && git -c user.name='Author ${i}' -c user.email=a${i}@example.invalid commit -qm 'first ${i}'`);
        await put(agents[i].key, l.id, `second-${i}.txt`, `${i}\n`);
      }),
    );
    const results = await Promise.all(leases.map((l, i) => push(agents[i].key, l.id, { message: `second ${i}`, target: 'base', strategy: strategies[i] })));
    for (const [i, r] of results.entries()) {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.strategy).toBe(strategies[i]);
    }
    expect(Math.max(...results.map((r) => r.body.batch_size))).toBeGreaterThan(1);
    for (const [i, r] of results.entries()) {
      const c = r.body.commit as string;
      const ps = await parents(repo.name, c);
      const entry = await entryOf(repo.name, c);
      expect(entry).toMatch(/^sbx_/);
      if (strategies[i] === 'merge') {
        expect(ps).toHaveLength(2);
        expect((await remoteGit(repo.name, 'log', '-1', '--format=%s|%cn', c)).trim()).toBe(`Merge ${leases[i].agent_branch}|git-sandbox`);
        // The agent's two commits sit under the merge, re-signed with the same entry.
        expect((await remoteGit(repo.name, 'rev-list', '--count', `${ps[0]}..${ps[1]}`)).trim()).toBe('2');
        expect(await entryOf(repo.name, ps[1])).toBe(entry);
      } else if (strategies[i] === 'squash') {
        expect(ps).toHaveLength(1);
        expect(await entryOf(repo.name, ps[0])).not.toBe(entry);
        expect((await remoteGit(repo.name, 'log', '-1', '--format=%s|%an', c)).trim()).toBe(`first ${i}|Author ${i}`);
        expect(await remoteGit(repo.name, 'show', '--name-only', '--format=', c)).toContain(`second-${i}.txt`);
      } else {
        expect(ps).toHaveLength(1);
        expect(await entryOf(repo.name, ps[0])).toBe(entry);
        expect((await remoteGit(repo.name, 'log', '-1', '--format=%s', c)).trim()).toBe(`second ${i}`);
      }
      // The lease's branch sits on its landed commit.
      expect((await exec(agents[i].key, leases[i].id, 'git rev-parse HEAD')).trim()).toBe(c);
    }
    // First-parent line: seed + 2 rebased entries × 2 commits + 2 merges + 2 squashes; only the merges have two parents.
    expect((await remoteGit(repo.name, 'rev-list', '--count', '--first-parent', 'main')).trim()).toBe('9');
    expect((await remoteGit(repo.name, 'rev-list', '--count', '--merges', 'main')).trim()).toBe('2');
    expect(await remoteGit(repo.name, 'for-each-ref', 'refs/git-sandbox')).toBe('');
    const tree = await remoteGit(repo.name, 'ls-tree', '-r', '--name-only', 'main');
    for (let i = 0; i < strategies.length; i++) expect(tree).toContain(`second-${i}.txt`);
    await Promise.all(leases.map((l, i) => call('DELETE', `/v1/sandboxes/${l.id}`, { key: agents[i].key })));
  });

  it('answers a merge or squash conflict with 409 MERGE_CONFLICT and the paths, the base unchanged', async () => {
    const repo = await newRepo({ 'shared.txt': 'one\n' });
    const [a, b, c] = await Promise.all([newAgent('kc'), newAgent('kc'), newAgent('kc')]);
    const [la, lb, lc] = await Promise.all([lease(a.key, repo.url), lease(b.key, repo.url), lease(c.key, repo.url)]);
    await put(a.key, la.id, 'shared.txt', 'one by A\n');
    await put(b.key, lb.id, 'shared.txt', 'one by B\n');
    await put(c.key, lc.id, 'shared.txt', 'one by C\n');
    expect((await push(a.key, la.id, { message: 'A', target: 'base', strategy: 'squash' })).status).toBe(200);
    const tip = (await remoteGit(repo.name, 'rev-parse', 'main')).trim();
    for (const [who, l, strategy] of [[b, lb, 'merge'], [c, lc, 'squash']] as const) {
      const r = await push(who.key, l.id, { message: 'conflicting', target: 'base', strategy });
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error).toMatchObject({ code: 'MERGE_CONFLICT', conflicts: ['shared.txt'] });
    }
    expect((await remoteGit(repo.name, 'rev-parse', 'main')).trim()).toBe(tip);
  });

  it('refuses a strategy on the agent branch and pull request options on another target (400, nothing pushed)', async () => {
    const repo = await newRepo();
    const { key } = await newAgent('refuse');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'x.txt', 'x\n');
    const s = await push(key, l.id, { message: 'x', strategy: 'squash' });
    expect(s.status).toBe(400);
    expect(s.body.error).toMatchObject({ code: 'BAD_REQUEST', field: 'strategy' });
    const o = await push(key, l.id, { message: 'x', target: 'base', pull_request: { title: 't' } });
    expect(o.status).toBe(400);
    expect(o.body.error).toMatchObject({ code: 'BAD_REQUEST', field: 'pull_request' });
    const bad = await push(key, l.id, { message: 'x', target: 'base', strategy: 'octopus' });
    expect(bad.status).toBe(400);
    expect((await remoteGit(repo.name, 'rev-list', '--count', '--all')).trim()).toBe('1');
  });
});

describe('pull requests', () => {
  it('opens a pull request from the pushed agent branch, updates it on the next push, and follows it to merged after the lease ended', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const { key } = await newAgent('pr');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'feature.txt', 'feature\n');
    const first = await push(key, l.id, { message: 'Add feature\n\nbody line', target: 'pull_request', pull_request: { body: 'Why: tests.' } });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ target_branch: l.agent_branch, committed: true, pull_request: { number: 1, state: 'open', draft: false, auto_merge: false, head_branch: l.agent_branch, base_branch: 'main', head_sha: first.body.commit } });
    expect(first.body.pull_request.url).toBe(`${stack.git_url}/local/${repo.name}/pull/1`);
    expect((await remoteGit(repo.name, 'rev-parse', l.agent_branch)).trim()).toBe(first.body.commit);
    expect(await upstreamPull(repo.name, 1)).toMatchObject({ title: 'Add feature', body: 'Why: tests.', state: 'open' });

    await put(key, l.id, 'feature.txt', 'feature v2\n');
    const second = await push(key, l.id, { message: 'Feature v2', target: 'pull_request', pull_request: { title: 'Add feature (v2)' } });
    expect(second.status, JSON.stringify(second.body)).toBe(200);
    expect(second.body.pull_request).toMatchObject({ number: 1, state: 'open', head_sha: second.body.commit });
    expect(await upstreamPull(repo.name, 1)).toMatchObject({ title: 'Add feature (v2)', body: 'Why: tests.' });
    // A push with nothing new still answers the open pull request.
    const again = await push(key, l.id, { message: 'no change', target: 'pull_request' });
    expect(again.body).toMatchObject({ commit: second.body.commit, committed: false, pull_request: { number: 1 } });

    expect((await callJson('GET', `/v1/sandboxes/${l.id}/pull_request`, { key })).body).toMatchObject({ number: 1, state: 'open' });
    // Someone merges it on the host (squash), then the lease ends; the record still follows it.
    const merged = await fetch(`${stack.github_api_url}/repos/local/${repo.name}/pulls/1/merge`, { method: 'PUT', headers: { authorization: `Bearer ${stack.git_token}`, 'content-type': 'application/json' }, body: JSON.stringify({ merge_method: 'squash' }) });
    expect(merged.status).toBe(200);
    expect((await call('DELETE', `/v1/sandboxes/${l.id}`, { key })).status).toBe(204);
    await age(l.id, 60);
    const after = await callJson('GET', `/v1/sandboxes/${l.id}/pull_request`, { key });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ number: 1, state: 'merged', merge_commit_sha: (await remoteGit(repo.name, 'rev-parse', 'main')).trim() });
    expect(await remoteGit(repo.name, 'show', 'main:feature.txt')).toBe('feature v2\n');
    // Another agent cannot read it.
    const other = await newAgent('pr-other');
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/pull_request`, { key: other.key })).status).toBe(404);
  });

  it('auto-merges by the push\'s strategy once the required check passes, seen by the cron\'s poll', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    await remoteGit(repo.name, 'config', 'github.requiredStatus', 'pending');
    const { key } = await newAgent('auto');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'auto.txt', 'auto\n');
    const r = await push(key, l.id, { message: 'Auto', target: 'pull_request', strategy: 'merge', pull_request: { auto_merge: true } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ strategy: 'merge', pull_request: { state: 'open', auto_merge: true } });
    await remoteGit(repo.name, 'config', 'github.requiredStatus', 'success');
    await age(l.id, 600);
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: '*/10 * * * *', scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    const h = createDb(env);
    try {
      const row = await h.db.execute(sql`select state, merge_commit_sha from pull_requests where lease_id = ${l.id}`);
      expect(row.rows[0]).toMatchObject({ state: 'merged' });
      const tip = (await remoteGit(repo.name, 'rev-parse', 'main')).trim();
      expect(row.rows[0].merge_commit_sha).toBe(tip);
      expect(await parents(repo.name, tip)).toHaveLength(2);
    } finally {
      await h.close();
    }
  });

  it('merges at once when auto_merge finds nothing to wait for, and reports it merged', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const { key } = await newAgent('clean');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'c.txt', 'c\n');
    const r = await push(key, l.id, { message: 'Clean', target: 'pull_request', strategy: 'squash', pull_request: { auto_merge: true, draft: false } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.pull_request).toMatchObject({ state: 'merged', auto_merge: false });
    const tip = (await remoteGit(repo.name, 'rev-parse', 'main')).trim();
    expect(r.body.pull_request.merge_commit_sha).toBe(tip);
    expect((await remoteGit(repo.name, 'log', '-1', '--format=%s', tip)).trim()).toBe('Clean (#1)');
  });

  it('keeps conflicts and refusals typed: a conflicting agent branch is 409 MERGE_CONFLICT, nothing to propose is 409 NOTHING_TO_PUSH, no pull request is 404', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const { key } = await newAgent('prk');
    const l = await lease(key, repo.url);
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/pull_request`, { key })).status).toBe(404);
    const none = await push(key, l.id, { message: 'nothing', target: 'pull_request' });
    expect(none.status, JSON.stringify(none.body)).toBe(409);
    expect(none.body.error.code).toBe('NOTHING_TO_PUSH');
    await oracle('POST', '/push-direct', { repo: repo.name, branch: 'main', file: 'x.txt', content: 'x\n' });
    await remoteGit(repo.name, 'branch', l.agent_branch, 'main');
    await oracle('POST', '/push-direct', { repo: repo.name, branch: l.agent_branch, file: 'a.txt', content: 'theirs\n' });
    await put(key, l.id, 'a.txt', 'mine\n');
    const c = await push(key, l.id, { message: 'mine', target: 'pull_request' });
    expect(c.status, JSON.stringify(c.body)).toBe(409);
    expect(c.body.error).toMatchObject({ code: 'MERGE_CONFLICT', conflicts: ['a.txt'] });
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/pull_request`, { key })).status).toBe(404);
  });
});

describe('pull requests over MCP', () => {
  it('git_push opens a pull request with a strategy, and the read-only pull_request_status follows it', async () => {
    const { key } = await newAgent('mcp-pr');
    const transport = new StreamableHTTPClientTransport(new URL('http://worker.test/mcp'), {
      fetch: (url, init) => exports.default.fetch(new Request(url, init)),
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    });
    const client = new Client({ name: 'landing-policies-test', version: '1.0.0' });
    await client.connect(transport);
    const tool = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult & { structuredContent?: any };
    try {
      const { tools } = await client.listTools();
      const status = tools.find((t) => t.name === 'pull_request_status');
      expect(status?.annotations).toMatchObject({ readOnlyHint: true });
      const pushSchema = tools.find((t) => t.name === 'git_push')?.inputSchema.properties as Record<string, { enum?: string[] }>;
      expect(pushSchema.strategy.enum).toEqual(['rebase', 'merge', 'squash']);
      expect(pushSchema.target.enum).toContain('pull_request');

      const repo = await newRepo({ 'a.txt': 'a\n' });
      const cloned = await tool('git_clone', { repo_url: repo.url, task_id: 'mcp-pr' });
      const id = cloned.structuredContent.id as string;
      expect((await tool('pull_request_status', { id })).structuredContent.error.code).toBe('NOT_FOUND');
      await tool('file_write', { id, path: 'm.txt', content: 'm\n' });
      const pushed = await tool('git_push', { id, message: 'From MCP', target: 'pull_request', strategy: 'squash', pull_request: { title: 'MCP change', draft: true } });
      expect(pushed.isError, JSON.stringify(pushed.content)).toBeFalsy();
      expect(pushed.structuredContent.pull_request).toMatchObject({ number: 1, state: 'open', draft: true });
      const text = pushed.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
      expect(text).toContain('Pull request #1 is open');
      const st = await tool('pull_request_status', { id });
      expect(st.structuredContent).toMatchObject({ number: 1, state: 'open', draft: true, head_branch: cloned.structuredContent.agent_branch });
      const conflict = await tool('git_push', { id, message: 'x', strategy: 'merge' });
      expect(conflict.isError).toBe(true);
      expect(conflict.structuredContent.error.code).toBe('BAD_REQUEST');
      await tool('sandbox_release', { id });
    } finally {
      await client.close();
    }
  });
});
