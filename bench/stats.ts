// Percentiles and the per-scenario summary computed from task records.
import { busyMs, type TaskRecord } from './agents.ts';

/** p50/p90/p99 in milliseconds (null when there were no samples). */
export interface Pcts {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** Nearest-rank percentile of `xs` (0 < p ≤ 100). */
export function percentile(xs: readonly number[], p: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** p50/p90/p99 rounded to whole ms. */
export function pcts(xs: readonly (number | undefined)[]): Pcts {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const r = (p: number) => {
    const x = percentile(v, p);
    return x === null ? null : Math.round(x);
  };
  return { p50: r(50), p90: r(90), p99: r(99) };
}

/** Arithmetic mean (null when empty). */
export function mean(xs: readonly (number | undefined)[]): number | null {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/** Counts of each value. */
export function countBy<T>(xs: readonly T[], key: (x: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) {
    const k = key(x);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The latency and rate figures of one set of task records. */
export interface TaskSummary {
  tasks_attempted: number;
  tasks_ok: number;
  lease_ms: Pcts;
  /** Lease latency of leases served by an existing sandbox (warm or affinity): the "warm lease". */
  warm_lease_ms: Pcts;
  cold_lease_ms: Pcts;
  lease_ms_by_source: Record<string, Pcts>;
  write_ms: Pcts;
  push_ms: Pcts;
  release_ms: Pcts;
  task_ms: Pcts;
  /** Task time without think time: lease + write + push + release. */
  busy_ms: Pcts;
  push_attempts_mean: number | null;
  /** Mean and max batch size seen by successful pushes (1 = landed alone). */
  batch_size_mean: number | null;
  batch_size_max: number | null;
  lock_wait_ms: Pcts;
  lease_sources: Record<string, number>;
  /** Error codes seen per step (retried ones included), e.g. {"push:REPO_LOCKED": 3}. */
  errors: Record<string, number>;
}

/** Summarizes task records. */
export function summarize(records: readonly TaskRecord[]): TaskSummary {
  const warm = records.filter((r) => r.lease_source === 'warm' || r.lease_source === 'affinity');
  const cold = records.filter((r) => r.lease_source && r.lease_source !== 'warm' && r.lease_source !== 'affinity');
  const errors: Record<string, number> = {};
  for (const r of records) for (const e of r.errors) errors[e] = (errors[e] ?? 0) + 1;
  const pushed = records.filter((r) => r.commit);
  return {
    tasks_attempted: records.length,
    tasks_ok: records.filter((r) => r.ok).length,
    lease_ms: pcts(records.filter((r) => r.leaseId || r.lease_source).map((r) => r.lease_ms)),
    warm_lease_ms: pcts(warm.map((r) => r.lease_ms)),
    cold_lease_ms: pcts(cold.map((r) => r.lease_ms)),
    lease_ms_by_source: Object.fromEntries(
      [...new Set(records.map((r) => r.lease_source).filter((x): x is string => !!x))].map((src) => [src, pcts(records.filter((r) => r.lease_source === src).map((r) => r.lease_ms))]),
    ),
    write_ms: pcts(records.map((r) => r.write_ms)),
    push_ms: pcts(pushed.map((r) => r.push_ms)),
    release_ms: pcts(records.map((r) => r.release_ms)),
    task_ms: pcts(records.filter((r) => r.ok).map((r) => r.task_ms)),
    busy_ms: pcts(records.filter((r) => r.ok).map(busyMs)),
    push_attempts_mean: mean(pushed.map((r) => r.push_attempts)),
    batch_size_mean: mean(pushed.map((r) => r.batch_size)),
    batch_size_max: pushed.some((r) => r.batch_size !== undefined) ? Math.max(...pushed.map((r) => r.batch_size ?? 0)) : null,
    lock_wait_ms: pcts(pushed.map((r) => r.lock_wait_ms)),
    lease_sources: countBy(records, (r) => r.lease_source),
    errors,
  };
}
