// Fresh idle members: a warm lease of a clone the pool verified fresh runs no fetch; a stale one
// fetches first; the service's own landings bring idle clones to the new tip in the background.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import { call, callJson, env, newAgent, newRepo, oracle, remoteGit } from './helpers.ts';

const pool = () => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));

async function lease(key: string, repoUrl: string) {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}` } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; lease_source: string; base_commit: string | null; fetched_at: string | null };
}

async function head(key: string, id: string): Promise<string> {
  const r = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command: 'git rev-parse HEAD' } });
  return String(r.body.stdout).trim();
}

async function releaseAndScrub(key: string, id: string) {
  expect((await call('DELETE', `/v1/sandboxes/${id}`, { key })).status).toBe(204);
  await pool().drain();
}

describe('fresh idle members', () => {
  it('leases a clone the pool verified fresh without fetching: a commit pushed behind the service\'s back is not seen yet', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const { key } = await newAgent('fresh');
    const first = await lease(key, repo.url);
    const t1 = (await remoteGit(repo.name, 'rev-parse', 'main')).trim();
    await releaseAndScrub(key, first.id);
    const direct = await oracle<{ sha: string }>('POST', '/push-direct', { repo: repo.name, file: 'b.txt', content: 'b\n' });
    const second = await lease(key, repo.url);
    expect(second.lease_source).toBe('affinity');
    // No fetch ran: the clone starts from the tip the pool verified, and says so.
    expect(second.base_commit).toBe(t1);
    expect(Date.now() - Date.parse(second.fetched_at!)).toBeLessThan(30_000);
    expect(await head(key, second.id)).toBe(t1);
    expect(direct.sha).not.toBe(t1);
    await call('DELETE', `/v1/sandboxes/${second.id}`, { key });
  });

  it('fetches first when the clone is staler than MAX_STALENESS_S', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const { key } = await newAgent('stale');
    const first = await lease(key, repo.url);
    await releaseAndScrub(key, first.id);
    const direct = await oracle<{ sha: string }>('POST', '/push-direct', { repo: repo.name, file: 'b.txt', content: 'b\n' });
    // Age the pool's knowledge of the tip past the limit (30 s by default).
    await runInDurableObject(pool(), async (_o: PoolCoordinator, state) => {
      state.storage.sql.exec(`UPDATE repo_tips SET checked_at = checked_at - 60000`);
    });
    const second = await lease(key, repo.url);
    expect(second.lease_source).toBe('affinity');
    expect(second.base_commit).toBe(direct.sha);
    expect(await head(key, second.id)).toBe(direct.sha);
    await call('DELETE', `/v1/sandboxes/${second.id}`, { key });
  });

  it('brings idle clones to the tip the service itself landed, so the next lease needs no fetch', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const a = await newAgent('idle');
    const b = await newAgent('lander');
    const la = await lease(a.key, repo.url);
    const lb = await lease(b.key, repo.url);
    // A first landing makes the repo's lander (a pool member of its own), then A's clone goes idle.
    expect((await call('PUT', `/v1/sandboxes/${lb.id}/files/first.txt`, { key: b.key, raw: 'first\n' })).status).toBe(200);
    expect((await callJson('POST', `/v1/sandboxes/${lb.id}/push`, { key: b.key, body: { message: 'first', target: 'base' } })).status).toBe(200);
    await releaseAndScrub(a.key, la.id);
    expect((await call('PUT', `/v1/sandboxes/${lb.id}/files/new.txt`, { key: b.key, raw: 'new\n' })).status).toBe(200);
    const pushed = await callJson('POST', `/v1/sandboxes/${lb.id}/push`, { key: b.key, body: { message: 'new', target: 'base' } });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
    await pool().warm(); // the maintenance pass the alarm would run: refreshes idle clones that are behind
    const c = await newAgent('next');
    const lc = await lease(c.key, repo.url);
    expect(lc.lease_source).toBe('affinity');
    expect(lc.base_commit).toBe(pushed.body.commit);
    expect(await head(c.key, lc.id)).toBe(pushed.body.commit);
    await Promise.all([call('DELETE', `/v1/sandboxes/${lb.id}`, { key: b.key }), call('DELETE', `/v1/sandboxes/${lc.id}`, { key: c.key })]);
  });
});
