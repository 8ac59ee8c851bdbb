// Prometheus text exposition: pool gauges/counters from the coordinator, git op series from Postgres.
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import type { PoolStats } from '../pool/types.ts';

const BUCKETS = [50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];
/** The buckets PoolCoordinator observes into (see its #observe). */
const POOL_BUCKETS = [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

function series(name: string, labels: Record<string, string | number>, value: number): string {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '_')}"`).join(',');
  return `${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`;
}

/** Renders the pool's gauges and counters. */
export function renderPool(stats: PoolStats): string[] {
  const out: string[] = ['# TYPE git_sandbox_pool_members gauge'];
  for (const [k, v] of Object.entries(stats.members)) {
    const [state, mode] = k.split(':');
    out.push(series('git_sandbox_pool_members', { state, mode }, v));
  }
  out.push('# TYPE git_sandbox_pool_waiters gauge', series('git_sandbox_pool_waiters', {}, stats.waiters));
  out.push('# TYPE git_sandbox_leases_active gauge', series('git_sandbox_leases_active', {}, stats.leases_active));
  out.push(series('git_sandbox_pool_min', {}, stats.settings.poolMin), series('git_sandbox_pool_max_sandboxes', {}, stats.settings.maxSandboxes));
  const reused = stats.counters['leases_reused_total{reused="true"}'] ?? 0;
  const fresh = stats.counters['leases_reused_total{reused="false"}'] ?? 0;
  out.push('# TYPE git_sandbox_pool_reuse_ratio gauge', series('git_sandbox_pool_reuse_ratio', {}, reused + fresh ? reused / (reused + fresh) : 0));
  // Histogram buckets are stored only once observed; a scrape needs every bucket, so fill zeros.
  const counters = { ...stats.counters };
  for (const k of Object.keys(stats.counters)) {
    const h = /^(.+_ms)_count$/.exec(k);
    if (h) for (const le of [...POOL_BUCKETS, '+Inf']) counters[`${h[1]}_bucket{le="${le}"}`] ??= 0;
  }
  const seen = new Set<string>();
  const order = (k: string) => k.replace(/le="\+Inf"/, 'le="~"').replace(/le="(\d+)"/, (_m, n: string) => `le="${n.padStart(8, '0')}"`);
  for (const [k, v] of Object.entries(counters).sort(([a], [b]) => (order(a) < order(b) ? -1 : 1))) {
    const base = `git_sandbox_${k.replace(/\{.*$/, '').replace(/_(bucket|sum|count)$/, '')}`;
    if (!seen.has(base)) {
      seen.add(base);
      out.push(`# TYPE ${base} ${/_ms_(bucket|sum|count)/.test(k) ? 'histogram' : 'counter'}`);
    }
    out.push(`git_sandbox_${k} ${v}`);
  }
  return out;
}

/** Renders git operation series aggregated in Postgres (all instances see the same numbers). */
export async function renderOperations(db: Db): Promise<string[]> {
  const out: string[] = [];
  const res = await db.execute(sql`
    select op, result, count(*)::int as n, coalesce(sum(duration_ms),0)::float8 as sum_ms,
           coalesce(sum(attempts),0)::int as attempts, coalesce(sum(lock_wait_ms),0)::float8 as lock_wait,
           ${sql.raw(BUCKETS.map((b, i) => `count(*) filter (where duration_ms <= ${b})::int as b${i}`).join(', '))}
    from git_operations group by op, result order by op, result`);
  const rows = res.rows as Record<string, number | string>[];
  out.push('# TYPE git_sandbox_git_operations_total counter');
  for (const r of rows) out.push(series('git_sandbox_git_operations_total', { op: r.op, result: r.result }, Number(r.n)));
  out.push('# TYPE git_sandbox_git_op_duration_ms histogram');
  const byOp = new Map<string, Record<string, number | string>[]>();
  for (const r of rows) byOp.set(String(r.op), [...(byOp.get(String(r.op)) ?? []), r]);
  for (const [op, rs] of byOp) {
    BUCKETS.forEach((b, i) => out.push(series('git_sandbox_git_op_duration_ms_bucket', { op, le: b }, rs.reduce((a, r) => a + Number(r[`b${i}`]), 0))));
    const n = rs.reduce((a, r) => a + Number(r.n), 0);
    out.push(series('git_sandbox_git_op_duration_ms_bucket', { op, le: '+Inf' }, n));
    out.push(series('git_sandbox_git_op_duration_ms_sum', { op }, rs.reduce((a, r) => a + Number(r.sum_ms), 0)));
    out.push(series('git_sandbox_git_op_duration_ms_count', { op }, n));
  }
  const push = rows.filter((r) => r.op === 'push');
  out.push('# TYPE git_sandbox_push_attempts_total counter', series('git_sandbox_push_attempts_total', {}, push.reduce((a, r) => a + Number(r.attempts), 0)));
  out.push('# TYPE git_sandbox_lock_wait_ms_sum counter', series('git_sandbox_lock_wait_ms_sum', {}, push.reduce((a, r) => a + Number(r.lock_wait), 0)));
  out.push('# TYPE git_sandbox_merge_conflicts_total counter', series('git_sandbox_merge_conflicts_total', {}, rows.filter((r) => r.result === 'merge_conflict').reduce((a, r) => a + Number(r.n), 0)));
  out.push('# TYPE git_sandbox_lock_timeouts_total counter', series('git_sandbox_lock_timeouts_total', {}, rows.filter((r) => r.result === 'repo_locked').reduce((a, r) => a + Number(r.n), 0)));
  out.push('# TYPE git_sandbox_lock_expiries_total counter', series('git_sandbox_lock_expiries_total', {}, rows.filter((r) => r.op === 'lock_expire').reduce((a, r) => a + Number(r.n), 0)));
  return out;
}
