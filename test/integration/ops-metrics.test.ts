// /metrics from the Worker under test: promtool accepts a real scrape, it exports every metric the
// alert rules and the dashboard read, counters are monotonic across the retention purge, HTTP and
// lock events are counted where they happen, and request ids reach the response.
import { createExecutionContext, createScheduledController, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import dashboard from '../../ops/grafana-dashboard.json?raw';
import rules from '../../ops/alerts.yml?raw';
import { createDb } from '../../src/db/client.ts';
import type { RepoLock } from '../../src/durable/repo-lock.ts';
import worker from '../../src/worker.ts';
import { metricFamilies, panelExpressions, ruleExpressions, exportedFamilies } from '../support/ops-queries.ts';
import { call, callJson, env, newAgent, oracle, stack } from './helpers.ts';
import { sampleValue, scrape, scrapeUntil } from './metrics-helpers.ts';

const pool = () => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));

/** Every counter and histogram sample of a scrape (gauges move both ways and are left out). */
function monotonicSamples(text: string): Map<string, number> {
  const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const series = line.slice(0, line.lastIndexOf(' '));
    const name = series.replace(/\{.*$/, '');
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (types.get(family) === 'counter' || types.get(family) === 'histogram') out.set(series, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

async function runCron(cron: string) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe('/metrics exposition', () => {
  it('passes promtool check metrics on a real scrape', async (ctx) => {
    await pool().warm();
    const text = await scrape();
    const r = await oracle<{ missing: boolean; required?: boolean; message?: string; code?: number; stdout?: string; stderr?: string }>('POST', '/promtool/check-metrics', { text });
    if (r.missing) {
      if (r.required) throw new Error(`${r.message}; CI must have it`);
      ctx.skip(`${r.message}; skipped because CI is unset`);
    }
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
  });

  it('exports every metric family the alert rules and the dashboard panels read', async () => {
    const exported = exportedFamilies(await scrape());
    const used = new Set([...ruleExpressions(rules), ...panelExpressions(dashboard).map((p) => p.expr)].flatMap(metricFamilies));
    expect(used.size).toBeGreaterThan(20);
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
  });

  it('keeps every counter where it was across the retention purge of git_operations', async () => {
    const { key } = await newAgent('purge');
    const l = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: stack.demo_repo_url, task_id: 'purge' } });
    expect(l.status).toBe(201);
    // Called with its own execution context, so the test waits for the work after the answer (the
    // operation's history row) instead of polling for it.
    const work = createExecutionContext();
    await worker.fetch(new Request(`http://worker.test/v1/sandboxes/${l.body.id}/status`, { headers: { authorization: `Bearer ${key}` } }), env, work);
    await waitOnExecutionContext(work);
    await call('DELETE', `/v1/sandboxes/${l.body.id}`, { key });
    const before = monotonicSamples(await scrapeUntil((t) => (sampleValue(t, 'git_sandbox_git_operations_total{op="status",result="ok"}') ?? 0) > 0));
    const h = createDb(env);
    try {
      const mine = async () => Number((await h.db.execute(sql`select count(*)::int as n from git_operations where lease_id = ${l.body.id}`)).rows[0].n);
      expect(await mine()).toBeGreaterThan(0);
      // Everything in history is now older than RETENTION_DAYS, so the purge deletes all of it (test
      // files running at the same time may add new rows meanwhile: only the backdated ones must go).
      await h.db.execute(sql`update git_operations set started_at = now() - interval '400 days'`);
      await runCron('17 3 * * *');
      expect((await h.db.execute(sql`select count(*)::int as n from git_operations where started_at < now() - interval '300 days'`)).rows[0].n).toBe(0);
      expect(await mine()).toBe(0);
    } finally {
      await h.close();
    }
    const after = monotonicSamples(await scrape());
    const decreased = [...before].filter(([series, v]) => (after.get(series) ?? -1) < v);
    expect(before.size).toBeGreaterThan(50);
    expect(decreased).toEqual([]);
  });

  it('serves every counter with the database down, reporting database_up 0', async () => {
    const { key } = await newAgent('dbdown');
    await callJson('GET', '/v1/sandboxes', { key });
    const up = await scrapeUntil((t) => (sampleValue(t, 'git_sandbox_http_requests_total{route="/v1/sandboxes",status="200"}') ?? 0) > 0);
    await oracle('POST', '/postgres/stop');
    try {
      const down = await scrape();
      expect(sampleValue(down, 'git_sandbox_database_up')).toBe(0);
      expect(sampleValue(down, 'git_sandbox_http_requests_total{route="/v1/sandboxes",status="200"}')).toBeGreaterThanOrEqual(sampleValue(up, 'git_sandbox_http_requests_total{route="/v1/sandboxes",status="200"}')!);
      expect(sampleValue(down, 'git_sandbox_leases_total{source="warm",mode="pooled"}')).toBeDefined();
    } finally {
      await oracle('POST', '/postgres/start');
    }
    expect(sampleValue(await scrape(), 'git_sandbox_database_up')).toBe(1);
  });
});

describe('HTTP request metrics and request ids', () => {
  it('labels requests with the matched route pattern, never the raw path', async () => {
    const { key } = await newAgent('route');
    const id = 'sbx_0123456789abcdef01234567';
    const r = await callJson('GET', `/v1/sandboxes/${id}`, { key });
    expect(r.status).toBe(404);
    const text = await scrapeUntil((t) => (sampleValue(t, 'git_sandbox_http_requests_total{route="/v1/sandboxes/:id",status="404"}') ?? 0) > 0);
    expect(sampleValue(text, 'git_sandbox_http_requests_total{route="/v1/sandboxes/:id",status="404"}')).toBeGreaterThan(0);
    expect(sampleValue(text, 'git_sandbox_http_request_duration_seconds_count{route="/v1/sandboxes/:id"}')).toBeGreaterThan(0);
    expect(text).not.toContain(id);
  });

  it('echoes cf-ray as X-Request-Id, and makes one up when there is none', async () => {
    const withRay = await call('GET', '/healthz', { headers: { 'cf-ray': '8f1e2d3c4b5a6978-AMS' } });
    expect(withRay.headers.get('x-request-id')).toBe('8f1e2d3c4b5a6978-AMS');
    const a = (await call('GET', '/healthz')).headers.get('x-request-id');
    const b = (await call('GET', '/healthz')).headers.get('x-request-id');
    expect(a).toMatch(/^req_[0-9a-f]{16}$/);
    expect(b).not.toBe(a);
  });

  it('tags error responses with X-Request-Id too', async () => {
    const r = await call('GET', '/v1/sandboxes', { key: 'gsk_not_a_key', headers: { 'cf-ray': 'abc123-LHR' } });
    expect(r.status).toBe(401);
    expect(r.headers.get('x-request-id')).toBe('abc123-LHR');
  });
});

describe('events counted where they happen', () => {
  it('forwards lock grants, timeouts and expiries from a RepoLock to /metrics', async () => {
    const base = await scrape();
    const count = (t: string, s: string) => sampleValue(t, s) ?? 0;
    const l = env.REPO_LOCK.get(env.REPO_LOCK.idFromName(`metrics-${crypto.randomUUID()}`));
    const held = await l.acquire('holder-a', { ttlMs: 60_000, waitMs: 0 });
    expect(held.ok).toBe(true);
    expect(await l.acquire('holder-b', { ttlMs: 60_000, waitMs: 0 })).toMatchObject({ ok: false, reason: 'timeout' });
    await runInDurableObject(l, async (_o: RepoLock, state) => {
      state.storage.sql.exec(`UPDATE lock_state SET expires_at=? WHERE id=1`, Date.now() - 1);
    });
    await runDurableObjectAlarm(l);
    const text = await scrapeUntil(
      (t) =>
        count(t, 'git_sandbox_lock_expiries_total') > count(base, 'git_sandbox_lock_expiries_total') &&
        count(t, 'git_sandbox_lock_timeouts_total') > count(base, 'git_sandbox_lock_timeouts_total') &&
        count(t, 'git_sandbox_lock_wait_seconds_count') > count(base, 'git_sandbox_lock_wait_seconds_count'),
    );
    expect(count(text, 'git_sandbox_lock_expiries_total')).toBeGreaterThan(count(base, 'git_sandbox_lock_expiries_total'));
    expect(count(text, 'git_sandbox_lock_timeouts_total')).toBeGreaterThan(count(base, 'git_sandbox_lock_timeouts_total'));
    expect(count(text, 'git_sandbox_lock_wait_seconds_count')).toBeGreaterThan(count(base, 'git_sandbox_lock_wait_seconds_count'));
  });

  it('accumulates idle sandbox-seconds while members sit idle, and keeps them once a member is leased', async () => {
    const stub = env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName(`idle-${crypto.randomUUID()}`));
    await stub.configure({ poolMin: 2 });
    const s1 = (await stub.warm()).counters.pool_idle_sandbox_seconds_total ?? 0;
    await new Promise((r) => setTimeout(r, 200));
    const s2 = (await stub.stats()).counters.pool_idle_sandbox_seconds_total ?? 0;
    expect(s2).toBeGreaterThan(s1);
    const got = await stub.acquire({ agentId: 'idle-agent', taskId: 't', repoUrl: 'http://x/r.git', repoKey: 'x/r', branch: 'main', agentBranch: 'agent/idle-agent/t', mode: 'pooled' });
    expect(got.ok).toBe(true);
    const s3 = (await stub.stats()).counters.pool_idle_sandbox_seconds_total ?? 0;
    expect(s3).toBeGreaterThanOrEqual(s2);
  });
});
