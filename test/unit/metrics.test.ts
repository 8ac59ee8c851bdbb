// Metric series keys, histogram deltas, the text exposition and the stored-histogram conversion.
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../src/metrics/exposition.ts';
import { FAMILIES, PREFIX } from '../../src/metrics/families.ts';
import { countGitOp, landingBatch } from '../../src/metrics/events.ts';
import { cumulate, DeltaBuffer, observation, parseKey, seriesKey } from '../../src/metrics/series.ts';
import { MS_TO_SECONDS_SQL } from '../../src/pool/storage.ts';
import type { PoolStats } from '../../src/pool/types.ts';

function stats(over: Partial<PoolStats> = {}): PoolStats {
  return {
    members: {},
    waiters: 0,
    leases_active: 0,
    counters: {},
    settings: { poolMin: 3, maxSandboxes: 20 } as PoolStats['settings'],
    idle: [],
    draining: false,
    projection_backlog: 0,
    ...over,
  };
}

const lines = (text: string) => text.trimEnd().split('\n');

describe('metric series', () => {
  it('round-trips labels with quotes, backslashes and newlines through a series key', () => {
    const key = seriesKey('http_requests_total', { route: 'a"b\\c\nd', status: 200 });
    expect(key).toBe('http_requests_total{route="a\\"b\\\\c\\nd",status="200"}');
    expect(parseKey(key)).toEqual({ name: 'http_requests_total', labels: { route: 'a"b\\c\nd', status: '200' } });
  });

  it('puts one observation into every bucket at or above it, +Inf, sum and count', () => {
    const d = observation('lock_wait_seconds', 0.3);
    expect(d['lock_wait_seconds_bucket{le="0.25"}']).toBeUndefined();
    expect(d['lock_wait_seconds_bucket{le="0.5"}']).toBe(1);
    expect(d['lock_wait_seconds_bucket{le="120"}']).toBe(1);
    expect(d['lock_wait_seconds_bucket{le="+Inf"}']).toBe(1);
    expect(d).toMatchObject({ lock_wait_seconds_sum: 0.3, lock_wait_seconds_count: 1 });
  });

  it('stores a hub observation in its one bucket and reports the buckets cumulative', () => {
    const m = new DeltaBuffer();
    m.observe('lock_wait_seconds', 0.3);
    m.observe('lock_wait_seconds', 0.3);
    m.observe('lock_wait_seconds', 500);
    const stored = m.take();
    expect(Object.keys(stored).filter((k) => k.includes('_bucket'))).toEqual(['lock_wait_seconds_bucket{le="0.5"}', 'lock_wait_seconds_bucket{le="+Inf"}']);
    const c = cumulate(stored);
    expect(c['lock_wait_seconds_bucket{le="0.25"}']).toBe(0);
    expect(c['lock_wait_seconds_bucket{le="0.5"}']).toBe(2);
    expect(c['lock_wait_seconds_bucket{le="120"}']).toBe(2);
    expect(c['lock_wait_seconds_bucket{le="+Inf"}']).toBe(3);
    expect(c.lock_wait_seconds_count).toBe(3);
  });

  it('refuses to observe into a family that is not a registered histogram', () => {
    expect(() => observation('leases_total', 1)).toThrow(/not a registered histogram/);
  });

  it('buffers one request\'s git operation as counter, histogram and push attempts, then starts over', () => {
    const m = new DeltaBuffer();
    countGitOp(m, 'push', 'ok', 1500, 3);
    countGitOp(m, 'status', 'ok', 20);
    const d = m.take();
    expect(d['git_operations_total{op="push",result="ok"}']).toBe(1);
    expect(d['git_op_duration_seconds_bucket{op="push",le="2.5"}']).toBe(1);
    expect(d['git_op_duration_seconds_bucket{op="push",le="5"}']).toBeUndefined();
    expect(d['git_op_duration_seconds_sum{op="push"}']).toBe(1.5);
    expect(d.push_attempts_total).toBe(3);
    expect(m.empty).toBe(true);
  });

  it('counts a landing batch once and its entries by outcome', () => {
    expect(landingBatch([{ status: 'landed' }, { status: 'landed' }, { status: 'conflict' }])).toEqual({
      landing_batches_total: 1,
      'landing_entries_total{result="landed"}': 2,
      'landing_entries_total{result="conflict"}': 1,
    });
  });
});

describe('Prometheus exposition', () => {
  it('gives every registered family HELP and TYPE lines even before any event', () => {
    const text = renderMetrics({ pool: stats(), hub: {}, databaseUp: true });
    for (const f of FAMILIES) {
      expect(text).toContain(`# HELP ${PREFIX}${f.name} `);
      expect(text).toContain(`# TYPE ${PREFIX}${f.name} ${f.type}\n`);
    }
  });

  it('exports known label sets at zero from the start', () => {
    const text = renderMetrics({ pool: stats(), hub: {}, databaseUp: true });
    expect(text).toContain('git_sandbox_leases_total{source="affinity",mode="direct"} 0\n');
    expect(text).toContain('git_sandbox_lease_rejections_total{reason="draining"} 0\n');
    expect(text).toContain('git_sandbox_git_operations_total{op="push",result="ok"} 0\n');
    expect(text).toContain('git_sandbox_git_op_duration_seconds_bucket{op="pull",le="+Inf"} 0\n');
    expect(text).toContain('git_sandbox_lock_expiries_total 0\n');
    expect(text).toContain('git_sandbox_pool_members{state="scrubbing",mode="pooled"} 0\n');
  });

  it('names no series with a millisecond unit and every counter ends in _total', () => {
    const text = renderMetrics({ pool: stats(), hub: {}, databaseUp: true });
    expect(text).not.toMatch(/_ms(_|\b)/);
    for (const f of FAMILIES.filter((x) => x.type === 'counter')) expect(f.name).toMatch(/_total$/);
    for (const f of FAMILIES.filter((x) => x.type === 'histogram')) expect(f.name).toMatch(/_seconds$/);
  });

  it('completes histogram buckets a stored series never reached, so buckets stay cumulative', () => {
    const m = new DeltaBuffer();
    m.observe('http_request_duration_seconds', 0.2, { route: '/v1/sandboxes' });
    const text = renderMetrics({ pool: stats(), hub: cumulate(m.take()), databaseUp: true });
    const buckets = lines(text).filter((l) => l.startsWith('git_sandbox_http_request_duration_seconds_bucket{route="/v1/sandboxes"'));
    const values = buckets.map((l) => Number(l.split(' ').pop()));
    expect(buckets[0]).toContain('le="0.005"');
    expect(buckets.at(-1)).toContain('le="+Inf"');
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(values.at(-1)).toBe(1);
  });

  it('derives pool gauges: members by state, draining, reuse ratio and the database probe', () => {
    const text = renderMetrics({
      pool: stats({ members: { 'idle:pooled': 2 }, draining: true, counters: { 'leases_reused_total{reused="true"}': 3, 'leases_reused_total{reused="false"}': 1 } }),
      hub: {},
      databaseUp: false,
    });
    expect(text).toContain('git_sandbox_pool_members{state="idle",mode="pooled"} 2\n');
    expect(text).toContain('git_sandbox_pool_draining 1\n');
    expect(text).toContain('git_sandbox_pool_reuse_ratio 0.75\n');
    expect(text).toContain('git_sandbox_database_up 0\n');
  });

  it('still exports a series missing from the registry, as untyped', () => {
    const text = renderMetrics({ pool: stats({ counters: { 'mystery_total{x="1"}': 4 } }), hub: {}, databaseUp: true });
    expect(text).toContain('# TYPE git_sandbox_mystery_total untyped\ngit_sandbox_mystery_total{x="1"} 4\n');
  });
});

describe('stored millisecond histograms', () => {
  it('become seconds histograms with converted bounds and sum, other counters untouched', () => {
    const db = new DatabaseSync(':memory:');
    db.exec(`CREATE TABLE counters (name TEXT PRIMARY KEY, value REAL NOT NULL)`);
    const ins = db.prepare('INSERT INTO counters VALUES (?, ?)');
    for (const le of [10, 250, 2500, 30000, '+Inf']) ins.run(`lease_wait_ms_bucket{le="${le}"}`, 2);
    ins.run('lease_wait_ms_sum', 1500);
    ins.run('create_ms_count', 2);
    ins.run('leases_total{source="warm",mode="pooled"}', 7);
    db.exec(MS_TO_SECONDS_SQL);
    const rows = Object.fromEntries((db.prepare('SELECT name, value FROM counters').all() as { name: string; value: number }[]).map((r) => [r.name, r.value]));
    expect(rows).toEqual({
      'lease_wait_seconds_bucket{le="0.01"}': 2,
      'lease_wait_seconds_bucket{le="0.25"}': 2,
      'lease_wait_seconds_bucket{le="2.5"}': 2,
      'lease_wait_seconds_bucket{le="30"}': 2,
      'lease_wait_seconds_bucket{le="+Inf"}': 2,
      lease_wait_seconds_sum: 1.5,
      create_seconds_count: 2,
      'leases_total{source="warm",mode="pooled"}': 7,
    });
  });
});
