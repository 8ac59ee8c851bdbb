// Admin operations: draining and resuming the pool, the active-lease listing, key rotation.
import { describe, expect, it } from 'vitest';
import { call, callJson, env, newAgent, stack } from './helpers.ts';

const pool = () => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));
const admin = { key: stack.admin_token };

async function lease(key: string, task = `t-${crypto.randomUUID().slice(0, 6)}`) {
  return callJson('POST', '/v1/sandboxes', { key, body: { repo_url: stack.demo_repo_url, task_id: task } });
}

/** Drains the global pool for the duration of `fn`, then resumes and refills it. */
async function whileDraining<T>(force: boolean, fn: (report: Record<string, unknown>) => Promise<T>): Promise<T> {
  const r = await callJson('POST', `/v1/admin/pool/drain${force ? '?force=true' : ''}`, admin);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  try {
    return await fn(r.body);
  } finally {
    expect((await callJson('POST', '/v1/admin/pool/resume', admin)).body).toEqual({ draining: false });
    await pool().warm();
  }
}

describe('pool drain and resume', () => {
  it('refuses new leases with 503 POOL_EXHAUSTED saying the pool is draining, and terminates idle members', async () => {
    const { key } = await newAgent('drain');
    await pool().warm();
    expect((await pool().stats()).members['idle:pooled']).toBeGreaterThan(0);
    await whileDraining(false, async (report) => {
      expect(report).toMatchObject({ draining: true, force: false, leases_ended: 0 });
      expect(report.idle_terminated).toBeGreaterThan(0);
      const r = await lease(key);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('POOL_EXHAUSTED');
      expect(r.body.error.message).toMatch(/draining/);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      const stats = await pool().warm();
      expect(stats.draining).toBe(true);
      expect(stats.members['idle:pooled'] ?? 0).toBe(0);
      expect(stats.counters['lease_rejections_total{reason="draining"}']).toBeGreaterThan(0);
    });
  });

  it('lets a lease granted before the drain keep working until it is released, then terminates its sandbox', async () => {
    const { key } = await newAgent('drain');
    await pool().warm();
    const l = await lease(key);
    expect(l.status).toBe(201);
    await whileDraining(false, async (report) => {
      expect(report.leases_active).toBeGreaterThan(0);
      const st = await callJson('GET', `/v1/sandboxes/${l.body.id}/status`, { key });
      expect(st.status).toBe(200);
      const before = (await pool().stats()).counters['terminations_total{reason="drain"}'] ?? 0;
      expect((await call('DELETE', `/v1/sandboxes/${l.body.id}`, { key })).status).toBe(204);
      await pool().drain();
      const after = await pool().stats();
      expect(after.counters['terminations_total{reason="drain"}']).toBe(before + 1);
      expect(after.members['scrubbing:pooled'] ?? 0).toBe(0);
    });
  });

  it('ends active leases too with force=true', async () => {
    const { key } = await newAgent('drain');
    await pool().warm();
    const l = await lease(key);
    expect(l.status).toBe(201);
    await whileDraining(true, async (report) => {
      expect(report).toMatchObject({ force: true, leases_active: 0 });
      expect(report.leases_ended).toBeGreaterThan(0);
      const st = await callJson('GET', `/v1/sandboxes/${l.body.id}/status`, { key });
      expect(st.status).toBe(410);
      expect(st.body.error.code).toBe('LEASE_ENDED');
    });
  });

  it('grants leases again and refills the pool after resume', async () => {
    const { key } = await newAgent('drain');
    await whileDraining(false, async () => {});
    const stats = await pool().stats();
    expect(stats.draining).toBe(false);
    expect(stats.members['idle:pooled']).toBeGreaterThanOrEqual(Number(env.POOL_MIN));
    const l = await lease(key);
    expect(l.status).toBe(201);
    await call('DELETE', `/v1/sandboxes/${l.body.id}`, { key });
  });

  it('needs the admin token', async () => {
    for (const [method, path] of [['POST', '/v1/admin/pool/drain'], ['POST', '/v1/admin/pool/resume'], ['GET', '/v1/admin/leases'], ['POST', '/v1/admin/keys/key_x/rotate']]) {
      const { key } = await newAgent('noadmin');
      expect((await call(method, path, { key })).status, path).toBe(401);
    }
    expect((await pool().stats()).draining).toBe(false);
  });
});

describe('active lease listing', () => {
  it("lists every agent's active leases, paginated, without provider ids or credentials", async () => {
    const a = await newAgent('list');
    const b = await newAgent('list');
    await pool().warm();
    const la = await lease(a.key);
    const lb = await lease(b.key);
    expect([la.status, lb.status]).toEqual([201, 201]);
    try {
      const ids = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: { status: number; body: { leases: Record<string, unknown>[]; next_cursor: string | null } } = await callJson('GET', `/v1/admin/leases?limit=1${cursor ? `&cursor=${cursor}` : ''}`, admin);
        expect(r.status).toBe(200);
        expect(r.body.leases.length).toBeLessThanOrEqual(1);
        for (const l of r.body.leases) {
          ids.add(String(l.id));
          for (const k of ['sandbox_id', 'home', 'idem_key', 'idem_fp']) expect(Object.keys(l)).not.toContain(k);
          expect(JSON.stringify(l)).not.toContain('gsk_');
        }
        cursor = r.body.next_cursor;
        pages++;
      } while (cursor && pages < 100);
      expect(ids).toContain(la.body.id);
      expect(ids).toContain(lb.body.id);
      expect(pages).toBeGreaterThanOrEqual(2);
    } finally {
      await call('DELETE', `/v1/sandboxes/${la.body.id}`, { key: a.key });
      await call('DELETE', `/v1/sandboxes/${lb.body.id}`, { key: b.key });
    }
  });

  it('refuses a cursor it did not issue', async () => {
    const r = await callJson('GET', '/v1/admin/leases?cursor=12.nope', admin);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('BAD_REQUEST');
  });
});

describe('API key rotation', () => {
  it('issues a new key for the same agent and keeps the old key valid during the grace period', async () => {
    const { agentId, key, keyId } = await newAgent('rotate');
    const r = await callJson('POST', `/v1/admin/keys/${keyId}/rotate`, admin);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ agent_id: agentId, previous: { id: keyId } });
    expect(r.body.key).not.toBe(key);
    const grace = Date.parse(r.body.previous.expires_at) - Date.now();
    expect(grace).toBeGreaterThan(3500_000);
    expect(grace).toBeLessThanOrEqual(3600_000);
    expect((await callJson('GET', '/v1/sandboxes', { key })).status).toBe(200);
    expect((await callJson('GET', '/v1/sandboxes', { key: r.body.key })).status).toBe(200);
  });

  it('rejects the old key once its grace period is over, and the new key still works', async () => {
    const { key, keyId } = await newAgent('rotate');
    const r = await callJson('POST', `/v1/admin/keys/${keyId}/rotate`, { ...admin, body: { grace_s: 0 } });
    expect(r.status).toBe(201);
    const old = await callJson('GET', '/v1/sandboxes', { key });
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('UNAUTHORIZED');
    expect((await callJson('GET', '/v1/sandboxes', { key: r.body.key })).status).toBe(200);
  });

  it('never lengthens a grace period already running', async () => {
    const { keyId } = await newAgent('rotate');
    const first = await callJson('POST', `/v1/admin/keys/${keyId}/rotate`, { ...admin, body: { grace_s: 60 } });
    const second = await callJson('POST', `/v1/admin/keys/${keyId}/rotate`, { ...admin, body: { grace_s: 7200 } });
    expect(second.status).toBe(201);
    expect(second.body.previous.expires_at).toBe(first.body.previous.expires_at);
  });

  it('answers 404 for an unknown or revoked key and 400 for a bad grace_s', async () => {
    expect((await callJson('POST', '/v1/admin/keys/key_unknown/rotate', admin)).status).toBe(404);
    const { keyId } = await newAgent('rotate');
    expect((await call('DELETE', `/v1/admin/keys/${keyId}`, admin)).status).toBe(204);
    expect((await callJson('POST', `/v1/admin/keys/${keyId}/rotate`, admin)).status).toBe(404);
    const other = await newAgent('rotate');
    const bad = await callJson('POST', `/v1/admin/keys/${other.keyId}/rotate`, { ...admin, body: { grace_s: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_REQUEST');
  });
});
