import { sql } from 'drizzle-orm';
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/client.ts';
import { decryptText } from '../../src/lib/crypto.ts';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import { call, callJson, env, newAgent, newRepo, oracle, stack } from './helpers.ts';

const pool = () => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));

async function lease(key: string, repoUrl: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}`, ...extra }, headers });
}

async function exec(key: string, id: string, command: string) {
  const r = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command } });
  expect(r.status).toBe(200);
  return r.body as { exit_code: number; stdout: string; stderr: string };
}

describe('leases', () => {
  it('pre-warms the pool to POOL_MIN idle sandboxes', async () => {
    const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`prewarm-${crypto.randomUUID()}`));
    await stub.configure({ poolMin: 3 });
    const stats = await stub.warm();
    expect(stats.members['idle:pooled']).toBe(3);
    expect(stats.counters['creates_total{mode="pooled"}']).toBe(3);
  });

  it('leases a warm pool member with the repo cloned and the agent branch checked out', async () => {
    const { key, agentId } = await newAgent();
    await pool().warm();
    const r = await lease(key, stack.demo_repo_url, { task_id: 'warm1' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ agent_id: agentId, task_id: 'warm1', branch: 'main', agent_branch: `agent/${agentId}/warm1`, status: 'ready', mode: 'pooled' });
    expect(['warm', 'affinity']).toContain(r.body.lease_source);
    expect(r.body.id).toMatch(/^sbx_/);
    const head = await exec(key, r.body.id, 'git branch --show-current && ls');
    expect(head.stdout).toContain(`agent/${agentId}/warm1`);
    expect(head.stdout).toContain('README.md');
    await pool().project();
    const h = createDb(env);
    try {
      const rows = await h.db.execute(sql`select status, lease_source, mode, workdir, sandbox_id from git_sandboxes where lease_id = ${r.body.id}`);
      expect(rows.rows[0]).toMatchObject({ status: 'in_use', lease_source: r.body.lease_source, mode: 'pooled' });
      expect(rows.rows[0].workdir).toBe(r.body.workdir);
    } finally {
      await h.close();
    }
    expect((await call('DELETE', `/v1/sandboxes/${r.body.id}`, { key })).status).toBe(204);
  });

  it('scrubs a returned sandbox so the next lease of the same repo is a clean affinity hit', async () => {
    const { key } = await newAgent();
    const repo = await newRepo();
    const first = await lease(key, repo.url);
    expect(first.status).toBe(201);
    await exec(key, first.body.id, 'echo junk > junk.txt && echo x >> README.md && git add README.md && mkdir -p ~/stray && git checkout -b side && (sleep 3001 &)');
    expect((await call('DELETE', `/v1/sandboxes/${first.body.id}`, { key })).status).toBe(204);
    await pool().drain();
    const second = await lease(key, repo.url);
    expect(second.status).toBe(201);
    expect(second.body.lease_source).toBe('affinity');
    const st = await callJson('GET', `/v1/sandboxes/${second.body.id}/status`, { key });
    expect(st.body).toMatchObject({ clean: true, staged: [], modified: [], untracked: [], branch: second.body.agent_branch });
    const probe = await exec(key, second.body.id, 'ls ~; git branch --list side | wc -l; pgrep -f "^sleep 3001$" | wc -l');
    expect(probe.stdout.split('\n').filter(Boolean)).toEqual(['repo', '0', '0']);
    await call('DELETE', `/v1/sandboxes/${second.body.id}`, { key });
  });

  it('serves waiters FIFO when the pool is exhausted, then answers exhausted after LEASE_WAIT_MS', async () => {
    const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`exhaust-${crypto.randomUUID()}`));
    await stub.configure({ poolMin: 0, maxSandboxes: 1, leaseWaitMs: 2500 });
    const req = (agentId: string) => ({ agentId, taskId: 't', repoUrl: stack.demo_repo_url, repoKey: 'k', branch: 'main', agentBranch: 'agent/x', mode: 'pooled' as const });
    const a = await stub.acquire(req('a'));
    expect(a.ok).toBe(true);
    const order: string[] = [];
    const b = stub.acquire(req('b')).then((r) => (order.push('b'), r));
    await new Promise((r) => setTimeout(r, 100));
    const c = stub.acquire(req('c')).then((r) => (order.push('c'), r));
    await new Promise((r) => setTimeout(r, 100));
    expect((await stub.stats()).waiters).toBe(2);
    if (!a.ok) throw new Error('unreachable');
    await stub.release(a.lease.id, 'a');
    const rb = await b;
    expect(rb.ok).toBe(true);
    const rc = await c;
    expect(rc).toMatchObject({ ok: false, reason: 'exhausted' });
    expect(order).toEqual(['b', 'c']);
  });

  it('answers 503 POOL_EXHAUSTED with Retry-After over HTTP when no sandbox frees up', async () => {
    const { key } = await newAgent();
    await pool().configure({ maxSandboxes: 0, poolMax: 0, leaseWaitMs: 300 });
    await pool().warm();
    try {
      const r = await lease(key, stack.demo_repo_url);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('POOL_EXHAUSTED');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await pool().configure({});
      await pool().warm();
    }
  });

  it('expires a lease from the alarm and answers 410 afterwards', async () => {
    const { key } = await newAgent();
    const r = await lease(key, stack.demo_repo_url);
    expect(r.status).toBe(201);
    // Fault injection: move the stored deadline into the past, then run the alarm as the runtime would.
    await runInDurableObject(pool(), async (_obj: PoolCoordinator, state) => {
      state.storage.sql.exec(`UPDATE leases SET expires_at=? WHERE id=?`, Date.now() - 1000, r.body.id);
    });
    await runDurableObjectAlarm(pool());
    const st = await callJson('GET', `/v1/sandboxes/${r.body.id}/status`, { key });
    expect(st.status).toBe(410);
    expect(st.body.error.code).toBe('LEASE_EXPIRED');
    await pool().project();
    const h = createDb(env);
    try {
      const row = await h.db.execute(sql`select status, last_operation from git_sandboxes where lease_id=${r.body.id}`);
      expect(row.rows[0]).toMatchObject({ status: 'expired', last_operation: 'expire' });
    } finally {
      await h.close();
    }
  });

  it('detects an idle sandbox killed behind the pool\'s back and replaces it', async () => {
    const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`health-${crypto.randomUUID()}`));
    await stub.configure({ poolMin: 2 });
    const before = await stub.warm();
    const victim = before.idle[0].sandbox_id;
    const killed = await fetch(`${stack.e2b_api_url}/sandboxes/${victim}`, { method: 'DELETE', headers: { 'X-API-KEY': stack.e2b_api_key } });
    expect(killed.status).toBe(204);
    const r = await stub.healthCheck();
    expect(r.dead).toBe(1);
    const after = await stub.stats();
    expect(after.members['idle:pooled']).toBe(2);
    expect(after.idle.map((m) => m.sandbox_id)).not.toContain(victim);
    expect(after.counters['terminations_total{reason="health"}']).toBe(1);
  });

  it('marks a lease broken when its sandbox dies and answers 502 SANDBOX_UNAVAILABLE, then 410 (its record stays readable)', async () => {
    const { key } = await newAgent();
    const r = await lease(key, stack.demo_repo_url);
    const sandboxId = await runInDurableObject(pool(), async (_o: PoolCoordinator, state) => String(state.storage.sql.exec(`SELECT sandbox_id FROM leases WHERE id=?`, r.body.id).one().sandbox_id));
    await fetch(`${stack.e2b_api_url}/sandboxes/${sandboxId}`, { method: 'DELETE', headers: { 'X-API-KEY': stack.e2b_api_key } });
    const st = await callJson('GET', `/v1/sandboxes/${r.body.id}/status`, { key });
    expect(st.status).toBe(502);
    expect(st.body.error.code).toBe('SANDBOX_UNAVAILABLE');
    const again = await callJson('GET', `/v1/sandboxes/${r.body.id}/status`, { key });
    expect(again.status).toBe(410);
    const record = await callJson('GET', `/v1/sandboxes/${r.body.id}`, { key });
    expect(record.status).toBe(200);
    expect(record.body).toMatchObject({ id: r.body.id, status: 'error' });
  });

  it('returns the same lease for a repeated Idempotency-Key without creating a second sandbox', async () => {
    const { key } = await newAgent();
    const idem = crypto.randomUUID();
    const [a, b] = await Promise.all([
      lease(key, stack.demo_repo_url, { task_id: 'idem' }, { 'idempotency-key': idem }),
      lease(key, stack.demo_repo_url, { task_id: 'idem' }, { 'idempotency-key': idem }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 201]);
    expect(a.body.id).toBe(b.body.id);
    const c = await lease(key, stack.demo_repo_url, { task_id: 'idem' }, { 'idempotency-key': idem });
    expect(c.body.id).toBe(a.body.id);
    const list = await callJson('GET', '/v1/sandboxes', { key });
    expect(list.body.sandboxes.map((s: { id: string }) => s.id)).toEqual([a.body.id]);
  });

  it('renews a lease, pushing expires_at forward', async () => {
    const { key } = await newAgent();
    const r = await lease(key, stack.demo_repo_url, { ttl_s: 60 });
    const renewed = await callJson('POST', `/v1/sandboxes/${r.body.id}/renew`, { key, body: { ttl_s: 1200 } });
    expect(renewed.status).toBe(200);
    expect(Date.parse(renewed.body.expires_at)).toBeGreaterThan(Date.parse(r.body.expires_at) + 1000 * 1000);
  });

  it('runs the direct path for agents outside POOLED_PERCENT: create on lease, kill on release', async () => {
    const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`direct-${crypto.randomUUID()}`));
    await stub.configure({ poolMin: 0 });
    const got = await stub.acquire({ agentId: 'd', taskId: 't', repoUrl: stack.demo_repo_url, repoKey: 'k', branch: 'main', agentBranch: 'agent/d', mode: 'direct' });
    expect(got).toMatchObject({ ok: true, lease: { source: 'cold', mode: 'direct' } });
    if (!got.ok) return;
    await stub.release(got.lease.id, 'd');
    const stats = await stub.stats();
    expect(stats.members).toEqual({});
    expect(stats.counters['terminations_total{reason="direct_release"}']).toBe(1);
  });
});

describe('pool policies', () => {
  const fresh = async (settings: Record<string, unknown>) => {
    const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`policy-${crypto.randomUUID()}`));
    await stub.configure(settings);
    return stub;
  };
  const req = (agentId: string) => ({ agentId, taskId: 't', repoUrl: stack.demo_repo_url, repoKey: 'k', branch: 'main', agentBranch: 'agent/p', mode: 'pooled' as const });

  it('refuses a lease beyond MAX_LEASES_PER_AGENT', async () => {
    const stub = await fresh({ poolMin: 0, maxLeasesPerAgent: 1 });
    expect((await stub.acquire(req('p'))).ok).toBe(true);
    expect(await stub.acquire(req('p'))).toMatchObject({ ok: false, reason: 'agent_limit' });
    expect((await stub.acquire(req('q'))).ok).toBe(true);
  });

  it('terminates returned sandboxes instead of reusing them when REUSE_POLICY=discard', async () => {
    const stub = await fresh({ poolMin: 0, reusePolicy: 'discard' });
    const got = await stub.acquire(req('d'));
    if (!got.ok) throw new Error('lease failed');
    await stub.release(got.lease.id, 'd');
    const stats = await stub.stats();
    expect(stats.members).toEqual({});
    expect(stats.counters['terminations_total{reason="discard"}']).toBe(1);
  });

  it('retires idle members past their max age and refills the pool', async () => {
    const stub = await fresh({ poolMin: 1 });
    const before = await stub.warm();
    const old = before.idle[0].sandbox_id;
    await runInDurableObject(stub, async (_o: PoolCoordinator, state) => {
      state.storage.sql.exec(`UPDATE members SET retire_at=? WHERE sandbox_id=?`, Date.now() - 1, old);
    });
    await runDurableObjectAlarm(stub);
    const after = await stub.stats();
    expect(after.counters['terminations_total{reason="retired"}']).toBe(1);
    expect(after.idle.map((m) => m.sandbox_id)).not.toContain(old);
    expect(after.members['idle:pooled']).toBe(1);
  });

  it('pre-clones PREWARM_REPOS into warm members so the first lease of that repo is an affinity hit', async () => {
    const repo = new URL(stack.demo_repo_url);
    const key = `${repo.host}/demo`;
    const stub = await fresh({ poolMin: 2, prewarmRepos: [{ url: stack.demo_repo_url, key, host: repo.host, branch: 'main' }] });
    const stats = await stub.warm();
    expect(stats.idle.map((m) => m.repo_key)).toEqual([key, key]);
    const got = await stub.acquire({ ...req('w'), repoUrl: stack.demo_repo_url, repoKey: key });
    expect(got).toMatchObject({ ok: true, lease: { source: 'affinity' } });
  });

  it('answers a provider outage on a cold create with a provider error and keeps no half-made member', async () => {
    const stub = await fresh({ poolMin: 0 });
    await oracle('POST', '/e2b/fail-next-creates', { count: 1 });
    expect(await stub.acquire(req('o'))).toMatchObject({ ok: false, reason: 'provider' });
    expect((await stub.stats()).members).toEqual({});
    expect((await stub.acquire(req('o'))).ok).toBe(true);
  });
});

describe('auth and access', () => {
  it('refuses a missing or wrong key with 401 and a revoked key at once', async () => {
    expect((await callJson('GET', '/v1/sandboxes')).status).toBe(401);
    const bad = await callJson('GET', '/v1/sandboxes', { key: 'gsk_nope' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('UNAUTHORIZED');
    const { key, keyId } = await newAgent();
    expect((await callJson('GET', '/v1/sandboxes', { key })).status).toBe(200);
    expect((await call('DELETE', `/v1/admin/keys/${keyId}`, { key: stack.admin_token })).status).toBe(204);
    expect((await callJson('GET', '/v1/sandboxes', { key })).status).toBe(401);
  });

  it('guards the admin endpoints with ADMIN_TOKEN', async () => {
    const r = await callJson('POST', '/v1/admin/keys', { key: 'wrong', body: { agent_id: 'x' } });
    expect(r.status).toBe(401);
  });

  it("answers 404 for another agent's lease", async () => {
    const a = await newAgent();
    const b = await newAgent();
    const r = await lease(a.key, stack.demo_repo_url);
    for (const [m, p] of [['GET', ''], ['GET', '/status'], ['DELETE', '']] as const) {
      const x = await callJson(m, `/v1/sandboxes/${r.body.id}${p}`, { key: b.key });
      expect(x.status).toBe(404);
      expect(x.body.error.code).toBe('NOT_FOUND');
    }
    await call('DELETE', `/v1/sandboxes/${r.body.id}`, { key: a.key });
  });

  it('refuses a repository outside ALLOWED_REPOS with 403 before anything runs', async () => {
    const { key } = await newAgent();
    const before = await oracle<{ count: number }>('GET', '/e2b/count');
    const r = await lease(key, 'https://github.com/someone/else.git');
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('REPO_NOT_ALLOWED');
    expect((await oracle<{ count: number }>('GET', '/e2b/count')).count).toBe(before.count);
  });

  it('rejects bad input with 400 naming the field', async () => {
    const { key } = await newAgent();
    const cases: [unknown, string][] = [
      [{ task_id: 'x' }, 'repo_url'],
      [{ repo_url: stack.demo_repo_url, task_id: 'bad id!' }, 'task_id'],
      [{ repo_url: stack.demo_repo_url, task_id: 'x', branch: 'a..b' }, 'branch'],
      [{ repo_url: `http://x-access-token:secret@${new URL(stack.git_url).host}/demo.git`, task_id: 'x' }, 'repo_url'],
      [{ repo_url: stack.demo_repo_url, task_id: 'x', extra: 1 }, ''],
    ];
    for (const [body, field] of cases) {
      const r = await callJson('POST', '/v1/sandboxes', { key, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toMatch(/BAD_REQUEST|INVALID_REF/);
      if (field) expect(JSON.stringify(r.body.error)).toContain(field);
    }
    const malformed = await call('POST', '/v1/sandboxes', { key, raw: '{', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
  });

  it('never lets the git token reach a response, a row or a sandbox file', async () => {
    const { key } = await newAgent();
    const r = await lease(key, stack.demo_repo_url);
    const bodies = [JSON.stringify(r.body)];
    bodies.push(JSON.stringify((await exec(key, r.body.id, 'env; cat .git/config; git config --global --list || true'))));
    await callJson('POST', `/v1/sandboxes/${r.body.id}/push`, { key, body: { message: 'noop' } }).then((x) => bodies.push(JSON.stringify(x.body)));
    for (const b of bodies) expect(b).not.toContain(stack.git_token);
    const h = createDb(env);
    try {
      const dump = await h.db.execute(sql`select (select coalesce(json_agg(s)::text,'') from git_sandboxes s) || (select coalesce(json_agg(o)::text,'') from git_operations o) as t`);
      expect(String(dump.rows[0].t)).not.toContain(stack.git_token);
    } finally {
      await h.close();
    }
    const scan = await oracle<{ files: string[] }>('POST', '/scan', { needle: stack.git_token });
    expect(scan.files).toEqual([]);
    await call('DELETE', `/v1/sandboxes/${r.body.id}`, { key });
  });

  it('stores a failed lease\'s last_error redacted and encrypted, and keeps the member for a missing branch', async () => {
    const { key, agentId } = await newAgent();
    const before = await callJson('GET', '/v1/admin/pool', { key: stack.admin_token });
    const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: stack.demo_repo_url, branch: 'no-such-branch', task_id: 'missing' } });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('BRANCH_NOT_FOUND');
    const after = await callJson('GET', '/v1/admin/pool', { key: stack.admin_token });
    const terminations = (s: any) => Object.entries(s.counters as Record<string, number>).filter(([k]) => k.startsWith('terminations_total')).reduce((n, [, v]) => n + v, 0);
    expect(terminations(after.body)).toBe(terminations(before.body));
    await env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global')).project();
    const h = createDb(env);
    try {
      const row = await h.db.execute(sql`select status, last_error, error_count from git_sandboxes where agent_id=${agentId} and task_id='missing'`);
      const enc = String(row.rows[0].last_error);
      expect(row.rows[0]).toMatchObject({ status: 'error', error_count: 1 });
      expect(enc).not.toContain('no-such-branch');
      expect(await decryptText(env.ERROR_ENCRYPTION_KEY, enc)).toContain('no-such-branch does not exist');
    } finally {
      await h.close();
    }
  });
});
