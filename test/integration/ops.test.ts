import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/client.ts';
import worker from '../../src/worker.ts';
import { call, callJson, env, newAgent, oracle, stack } from './helpers.ts';
import { sampleValue, scrapeUntil } from './metrics-helpers.ts';

async function runCron(cron: string) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe('cron and metrics', () => {
  it('purges git_operations older than RETENTION_DAYS in the daily job and keeps recent ones', async () => {
    const h = createDb(env);
    try {
      const tag = crypto.randomUUID();
      await h.db.execute(sql`insert into git_operations(op, result, started_at, detail) values
        ('old', 'ok', now() - interval '400 days', ${JSON.stringify({ tag })}::jsonb),
        ('new', 'ok', now(), ${JSON.stringify({ tag })}::jsonb)`);
      await runCron('17 3 * * *');
      const left = await h.db.execute(sql`select op from git_operations where detail->>'tag' = ${tag}`);
      expect(left.rows.map((r) => r.op)).toEqual(['new']);
    } finally {
      await h.close();
    }
  });

  it('projects lease transitions to git_sandboxes, and catches up after releases made while Postgres was stopped', async () => {
    const { key, agentId } = await newAgent('proj');
    const created = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: stack.demo_repo_url, task_id: 'projection' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const pool = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));
    await pool.project();
    const h = createDb(env);
    try {
      const before = await h.db.execute(sql`select status, last_operation, workdir from git_sandboxes where lease_id=${id}`);
      expect(before.rows[0]).toMatchObject({ status: 'ready', last_operation: 'clone', workdir: created.body.workdir });
      await oracle('POST', '/postgres/stop');
      try {
        // The coordinator owns the lease: the release happens with the database down.
        expect(await pool.release(id, agentId)).toMatchObject({ ok: true });
        expect(await pool.project()).toBe(0);
      } finally {
        await oracle('POST', '/postgres/start');
      }
      expect(await pool.project()).toBeGreaterThan(0);
      await h.close();
      const h2 = createDb(env);
      try {
        const after = await h2.db.execute(sql`select status, last_operation, released_at from git_sandboxes where lease_id=${id}`);
        expect(after.rows[0]).toMatchObject({ status: 'released', last_operation: 'release' });
        expect(after.rows[0].released_at).not.toBeNull();
      } finally {
        await h2.close();
      }
    } finally {
      await h.close();
    }
  });

  it('kills provider sandboxes of this pool that the coordinator does not know (orphans)', async () => {
    const { Sandbox } = await import('e2b');
    const orphan = await Sandbox.create('base', { apiKey: stack.e2b_api_key, apiUrl: stack.e2b_api_url, sandboxUrl: stack.e2b_sandbox_url, metadata: { service: 'git-sandbox', pool: 'global' } });
    await runCron('*/10 * * * *');
    const info = await fetch(`${stack.e2b_api_url}/sandboxes/${orphan.sandboxId}`, { headers: { 'X-API-KEY': stack.e2b_api_key } });
    expect(info.status).toBe(404);
  });

  it('runs the health job, which keeps the pool at POOL_MIN', async () => {
    await runCron('*/5 * * * *');
    const stats = await callJson('GET', '/v1/admin/pool', { key: stack.admin_token });
    expect(stats.body.members['idle:pooled']).toBeGreaterThanOrEqual(Number(env.POOL_MIN));
  });

  it('serves Prometheus metrics behind METRICS_TOKEN with pool, lease and git series', async () => {
    expect((await call('GET', '/metrics')).status).toBe(401);
    const { key } = await newAgent('metrics');
    const l = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: stack.demo_repo_url, task_id: 'm' } });
    await callJson('GET', `/v1/sandboxes/${l.body.id}/status`, { key });
    await call('DELETE', `/v1/sandboxes/${l.body.id}`, { key });
    const r = await call('GET', '/metrics', { key: stack.metrics_token });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    await r.text();
    const text = await scrapeUntil((t) => (sampleValue(t, 'git_sandbox_git_operations_total{op="status",result="ok"}') ?? 0) > 0);
    expect(text).toMatch(/git_sandbox_pool_members\{state="idle",mode="pooled"\} \d+/);
    expect(text).toMatch(/git_sandbox_leases_total\{source="(warm|affinity|cold)",mode="pooled"\} [1-9]/);
    expect(text).toMatch(/git_sandbox_git_operations_total\{op="status",result="ok"\} [1-9]/);
    expect(text).toMatch(/git_sandbox_git_op_duration_seconds_bucket\{op="status",le="\+Inf"\} [1-9]/);
    expect(text).toContain('git_sandbox_pool_reuse_ratio');
    for (const le of ['0.01', '0.25', '30', '+Inf']) expect(text).toContain(`git_sandbox_lease_wait_seconds_bucket{le="${le}"}`);
    expect(text).toContain('git_sandbox_database_up 1');
    expect(text).not.toContain(stack.git_token);
  });
});
