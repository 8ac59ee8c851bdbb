// History after the fact: an ended lease's final record and its operations stay readable by their
// owner (and by no one else), the caller's own operations across leases, and the admin's key list.
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import { call, callJson, env, newAgent, stack } from './helpers.ts';

const pool = () => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));

async function lease(key: string): Promise<{ id: string; repo_url: string }> {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: stack.demo_repo_url, task_id: `t-${crypto.randomUUID().slice(0, 6)}` } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

/** Operations are recorded after each answer; waits until `n` rows of the lease are there. */
async function operations(key: string, id: string, n: number, query = ''): Promise<{ operations: { id: number; op: string; result: string; lease_id: string }[]; next_cursor: string | null }> {
  for (let i = 0; ; i++) {
    const r = await callJson('GET', `/v1/sandboxes/${id}/operations${query}`, { key });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (r.body.operations.length >= n || i >= 50) return r.body;
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('history', () => {
  it("returns a released lease's final record and operations to its owner, and 404 to anyone else", async () => {
    const owner = await newAgent('hist');
    const other = await newAgent('hist');
    const l = await lease(owner.key);
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/status`, { key: owner.key })).status).toBe(200);
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/log`, { key: owner.key })).status).toBe(200);
    const live = await callJson('GET', `/v1/sandboxes/${l.id}`, { key: owner.key });
    expect(live.body).toMatchObject({ id: l.id, status: 'in_use' });
    expect(live.body.ended_at).toBeUndefined();
    expect((await call('DELETE', `/v1/sandboxes/${l.id}`, { key: owner.key })).status).toBe(204);

    const rec = await callJson('GET', `/v1/sandboxes/${l.id}`, { key: owner.key });
    expect(rec.status, JSON.stringify(rec.body)).toBe(200);
    expect(rec.body).toMatchObject({ id: l.id, agent_id: owner.agentId, repo_url: l.repo_url, status: 'released', last_operation: 'release' });
    expect(Date.parse(rec.body.ended_at)).toBeGreaterThan(Date.parse(rec.body.created_at) - 1);
    // Operations on the ended lease still answer 410; only its record and history are readable.
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/status`, { key: owner.key })).body.error.code).toBe('LEASE_ENDED');

    const ops = await operations(owner.key, l.id, 2);
    expect(ops.operations.map((o) => o.op)).toEqual(['status', 'log']);
    expect(ops.operations.every((o) => o.result === 'ok' && o.lease_id === l.id)).toBe(true);
    const page1 = await operations(owner.key, l.id, 1, '?limit=1');
    expect(page1.operations.map((o) => o.op)).toEqual(['status']);
    expect(page1.next_cursor).toBe(String(page1.operations[0].id));
    const page2 = await callJson('GET', `/v1/sandboxes/${l.id}/operations?limit=1&cursor=${page1.next_cursor}`, { key: owner.key });
    expect(page2.body.operations.map((o: { op: string }) => o.op)).toEqual(['log']);

    for (const path of [`/v1/sandboxes/${l.id}`, `/v1/sandboxes/${l.id}/operations`]) {
      const r = await callJson('GET', path, { key: other.key });
      expect(r.status, path).toBe(404);
      expect(r.body.error.code).toBe('NOT_FOUND');
    }
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/operations?cursor=abc`, { key: owner.key })).status).toBe(400);
  });

  it('keeps an expired lease readable, and a lease the pool has forgotten, from Postgres', async () => {
    const owner = await newAgent('hist');
    const other = await newAgent('hist');
    const l = await lease(owner.key);
    await runInDurableObject(pool(), async (_obj: PoolCoordinator, state) => {
      state.storage.sql.exec(`UPDATE leases SET expires_at=? WHERE id=?`, Date.now() - 1000, l.id);
    });
    await runDurableObjectAlarm(pool());
    const rec = await callJson('GET', `/v1/sandboxes/${l.id}`, { key: owner.key });
    expect(rec.status, JSON.stringify(rec.body)).toBe(200);
    expect(rec.body).toMatchObject({ id: l.id, status: 'expired', last_operation: 'expire' });

    // The coordinator purges ended leases after a week; the record is then read from Postgres alone.
    await runInDurableObject(pool(), async (_obj: PoolCoordinator, state) => {
      state.storage.sql.exec(`DELETE FROM leases WHERE id=?`, l.id);
    });
    const purged = await callJson('GET', `/v1/sandboxes/${l.id}`, { key: owner.key });
    expect(purged.status).toBe(200);
    expect(purged.body).toMatchObject({ id: l.id, status: 'expired', base_commit: null });
    expect((await callJson('GET', `/v1/sandboxes/${l.id}`, { key: other.key })).status).toBe(404);
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/operations`, { key: owner.key })).status).toBe(200);
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/operations`, { key: other.key })).status).toBe(404);
    expect((await callJson('GET', '/v1/sandboxes/sbx_000000000000000000000000', { key: owner.key })).status).toBe(404);
  });

  it("lists the caller's own operations across leases, by repository and time", async () => {
    const owner = await newAgent('hist');
    const other = await newAgent('hist');
    const started = new Date().toISOString();
    const l = await lease(owner.key);
    await callJson('GET', `/v1/sandboxes/${l.id}/status`, { key: owner.key });
    await operations(owner.key, l.id, 1);
    const mine = await callJson('GET', `/v1/operations?since=${encodeURIComponent(started)}`, { key: owner.key });
    expect(mine.status, JSON.stringify(mine.body)).toBe(200);
    expect(mine.body.operations.map((o: { op: string; lease_id: string }) => [o.op, o.lease_id])).toEqual([['status', l.id]]);
    expect((await callJson('GET', `/v1/operations?repo=${encodeURIComponent(stack.demo_repo_url)}`, { key: owner.key })).body.operations).toHaveLength(1);
    expect((await callJson('GET', `/v1/operations?repo=${encodeURIComponent('http://example.com/other/repo.git')}`, { key: owner.key })).body.operations).toEqual([]);
    expect((await callJson('GET', `/v1/operations?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { key: owner.key })).body.operations).toEqual([]);
    expect((await callJson('GET', '/v1/operations', { key: other.key })).body.operations).toEqual([]);
    expect((await callJson('GET', '/v1/operations?since=yesterday', { key: owner.key })).status).toBe(400);
    expect((await callJson('GET', '/v1/operations')).status).toBe(401);
    await call('DELETE', `/v1/sandboxes/${l.id}`, { key: owner.key });
  });

  it('lists API keys to the admin without any secret, paginated', async () => {
    const a = await newAgent('keys');
    const rotated = await callJson('POST', `/v1/admin/keys/${a.keyId}/rotate`, { key: stack.admin_token, body: { grace_s: 60 } });
    expect(rotated.status).toBe(201);
    const page1 = await callJson('GET', `/v1/admin/keys?agent_id=${a.agentId}&limit=1`, { key: stack.admin_token });
    expect(page1.status, JSON.stringify(page1.body)).toBe(200);
    expect(page1.body.keys).toEqual([{ id: a.keyId, agent_id: a.agentId, created_at: expect.any(String), revoked_at: null, expires_at: expect.any(String) }]);
    expect(page1.body.next_cursor).toBeTruthy();
    const page2 = await callJson('GET', `/v1/admin/keys?agent_id=${a.agentId}&limit=1&cursor=${encodeURIComponent(page1.body.next_cursor)}`, { key: stack.admin_token });
    expect(page2.body.keys.map((k: { id: string }) => k.id)).toEqual([rotated.body.id]);
    const page3 = await callJson('GET', `/v1/admin/keys?agent_id=${a.agentId}&limit=1&cursor=${encodeURIComponent(page2.body.next_cursor)}`, { key: stack.admin_token });
    expect(page3.body).toEqual({ keys: [], next_cursor: null });
    const all = JSON.stringify((await callJson('GET', '/v1/admin/keys?limit=500', { key: stack.admin_token })).body);
    expect(all).not.toContain(a.key);
    expect(all).not.toContain(rotated.body.key);
    expect(all).not.toMatch(/hash/i);
    expect((await callJson('GET', '/v1/admin/keys', { key: a.key })).status).toBe(401);
  });
});
