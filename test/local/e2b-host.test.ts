// Conformance of the local E2B-compatible host's control plane, git use and isolation, driven by the
// real, unmodified `e2b` SDK exactly as the Worker uses it (apiUrl = sandboxUrl = host.url).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, CommandExitError, GitAuthError, RateLimitError, Sandbox, SandboxError, SandboxNotFoundError, TimeoutError } from 'e2b';
import { startE2BHost } from '../../local/e2b-host/index.ts';
import { startGitFixture, type GitFixture } from './helpers/e2b-git-fixture.ts';
import { host, opts, create, isAliveIn, pidNamespace, waitFor, useLocalHost } from './helpers/e2b-host-setup.ts';

useLocalHost();

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

  it('includes a sandbox started exactly at startedAfter in the list', async () => {
    const suite = `after-${Date.now()}`;
    const sbx = await create({ metadata: { suite } });
    const { startedAt } = await sbx.getInfo();
    const at = await Sandbox.list({ ...opts, query: { metadata: { suite }, startedAfter: startedAt } }).nextItems();
    expect(at.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
    const later = await Sandbox.list({ ...opts, query: { metadata: { suite }, startedAfter: new Date(startedAt.getTime() + 1) } }).nextItems();
    expect(later).toEqual([]);
  });

  it('kills a sandbox: isRunning false, SandboxNotFoundError afterwards, second kill false', async () => {
    const sbx = await create();
    const h = await sbx.commands.run('sleep 60', { background: true, timeoutMs: 0 });
    const ns = await pidNamespace(sbx);
    expect(await sbx.isRunning()).toBe(true);
    expect(await sbx.kill()).toBe(true);
    expect(await sbx.isRunning()).toBe(false);
    await expect(sbx.getInfo()).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(sbx.setTimeout(10_000)).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(Sandbox.connect(sbx.sandboxId, opts)).rejects.toBeInstanceOf(SandboxNotFoundError);
    await expect(sbx.commands.run('true')).rejects.toBeInstanceOf(SandboxNotFoundError);
    expect(await Sandbox.kill(sbx.sandboxId, opts)).toBe(false);
    await waitFor(async () => !(await isAliveIn(ns, h.pid)));
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
    const ns = await pidNamespace(sbx);
    const h = await sbx.commands.run('sleep 60', { background: true, timeoutMs: 0 });
    const info = await sbx.getInfo();
    expect(info.endAt.getTime() - info.startedAt.getTime()).toBeLessThanOrEqual(2_000);
    await new Promise((r) => setTimeout(r, 2_200));
    await expect(sbx.getInfo()).rejects.toBeInstanceOf(SandboxNotFoundError);
    expect(await sbx.isRunning()).toBe(false);
    await waitFor(async () => !(await isAliveIn(ns, h.pid)));
    await waitFor(() => !existsSync(path.join(host.root, sbx.sandboxId)));
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
    for (const r of results) {
      expect(r.ls).toBe(`mine-${r.i}.txt`);
      expect(r.file).toBe(r.id);
      expect(r.name).toBe(`box-${r.i}`);
      if (host.isolation.enabled) expect(r.home).toBe('/home/user');
      else expect(r.home).toContain(r.id);
    }
    await Promise.all(boxes.map((b) => b.kill()));
  });
});
