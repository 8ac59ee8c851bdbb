// The capacity results: their JSON shape and the table printed with the bench report.
import type { Pcts } from './types.ts';

/** One driver run: a coordinator level, a shard count, the no-op RPC floor or a lock level. */
export interface LevelResult {
  kind: 'pool' | 'rpc' | 'lock';
  agents: number;
  /** False when the driver gave no answer in time (the object was overloaded); its figures are then null. */
  answered: boolean;
  /** Agents whose last cycle was still pending when the run reported. */
  unfinished: number;
  shards: number;
  members_per_shard?: number;
  /** Grants, lock cycles or no-op calls completed in the measuring window. */
  ops: number | null;
  ops_per_s: number | null;
  /** Coordinator levels: releases per second as the provider stub saw them (one scrub each), answered or not. */
  scrubs_per_s: number | null;
  /** Grant (acquire) latency; for the lock, the lock's acquire; for rpc, the call. */
  acquire_ms: Pcts | null;
  release_ms: Pcts | null;
  errors: Record<string, number>;
  /** CPU seconds of workerd in the window, that per window second, and per operation. */
  workerd_cpu_s: number | null;
  workerd_busy: number | null;
  workerd_cpu_ms_per_op: number | null;
  /** Operations per workerd CPU second: the rate if the object had a whole core to itself (driver included). */
  cpu_ceiling_per_s: number | null;
  cpu_by_role_s: Record<string, number> | null;
  /** Per second since the start (warm-up included): completed operations, and releases the stub saw (pool). */
  timeline: { ops: number[] | null; releases: number[] | null };
  /** The machine's 1-minute load average when the run ended (other users' work included). */
  load_avg_1m: number;
  /** Coordinator levels: lease transitions not yet in Postgres when the run ended (the projection's lag). */
  projection_backlog?: number | null;
  /** With --capacity-profile: the isolate's hottest functions by self time over the window. */
  hot?: { fn: string; self_ms: number; share: number }[];
}

/** One point of a coordinator curve. */
export interface CurvePoint {
  agents: number;
  grants_per_s: number;
  p50_ms: number | null;
  p99_ms: number | null;
  answered: boolean;
}

/** The `capacity` key of the bench JSON. */
export interface CapacityResult {
  /** Best grants/s of one coordinator over the curve. */
  coordinator_grants_per_s: number | null;
  /** Best acquire/release cycles/s of one RepoLock over the lock levels. */
  lock_cycles_per_s: number | null;
  /** grants_per_s falls back to the stub's releases/s when the driver did not answer (answered: false). */
  curve: CurvePoint[];
  /** The smallest agent level against growing pools: what one grant costs as the member table grows. */
  members_curve: (CurvePoint & { members: number; workerd_cpu_ms_per_grant: number | null })[];
  /** K coordinators side by side, each in its own workerd process with its share of the agents (K = 1: the curve's level). */
  shards: (CurvePoint & { shards: number })[];
  lock_curve: { agents: number; cycles_per_s: number; p50_ms: number | null; p99_ms: number | null }[];
  levels: LevelResult[];
  /** workerd CPU microseconds per one-row SQLite statement in a Durable Object (50,000 in one call). */
  sql_statement_us: number | null;
  /** Requests the provider stub answered, by route (the scrub's calls: connect, process_list, stat, start). */
  stub_requests: Record<string, number>;
  options: Record<string, unknown>;
  duration_s: number;
}

const trip = (p: Pcts | null) => (p ? `${p.p50 ?? '-'}/${p.p90 ?? '-'}/${p.p99 ?? '-'}` : '-');

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd()).join('\n');
}

/** The capacity section of the human report. */
export function renderCapacity(c: CapacityResult): string {
  const rows = [['run', 'agents', 'members', 'shards', 'ops/s', 'acquire p50/90/99', 'release p50/90/99', 'workerd busy', 'CPU ms/op', 'ops/CPU-s', 'history lag', 'load', 'errors']];
  for (const l of c.levels) {
    const name = l.kind === 'pool' ? 'coordinator' : l.kind === 'rpc' ? 'no-op RPC' : 'repo lock';
    rows.push([
      name, String(l.agents), l.members_per_shard === undefined ? '-' : String(l.members_per_shard), String(l.shards), l.answered ? (l.ops_per_s ?? 0).toFixed(0) : `(${(l.scrubs_per_s ?? 0).toFixed(0)})`,
      l.answered ? trip(l.acquire_ms) : 'no answer', trip(l.release_ms),
      l.workerd_busy === null ? '-' : `${Math.round(l.workerd_busy * 100)}%`, l.workerd_cpu_ms_per_op?.toFixed(2) ?? '-', l.cpu_ceiling_per_s === null ? '-' : String(l.cpu_ceiling_per_s), l.projection_backlog == null ? '-' : String(l.projection_backlog), l.load_avg_1m.toFixed(1),
      Object.entries(l.errors).map(([k, v]) => `${k} ${v}`).join(', ') || '-',
    ]);
  }
  const stub = Object.entries(c.stub_requests).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `Capacity (in workerd, sandbox side stubbed; ${Number(c.options.durationMs) / 1000} s per run after ${Number(c.options.warmupMs) / 1000} s warm-up; all times in ms):`,
    table(rows),
    '  coordinator: closed loop, each agent acquire → release back to back on coordinators seeded with idle members',
    c.options.scrubber === 'sdk'
      ? '  (members = per shard); release scrubs through the e2b SDK to the provider stub, the history goes to Postgres. ops = grants.'
      : '  (members = per shard); a release\'s scrub is answered clean at once (stub MemberScrubber), the history goes to Postgres. ops = grants.',
    '  shards K > 1: K workerd processes side by side, each with its coordinator and its share of the agents; ops add up.',
    '  history lag: lease transitions not yet copied to Postgres when the run ended (grants wait for the copy past 500).',
    '  no-op RPC: the driver and the RPC path alone. repo lock: acquire → release; agents > 1 queue behind the holder.',
    '  workerd busy: workerd CPU seconds per second (the driver runs in the same isolate); ops/CPU-s: operations per',
    '  workerd CPU second, the rate with a whole core (other users share this machine); load: 1-min load average.',
    '  no answer: the driver got no grant back within 50 s after the window; (n) = releases/s the provider stub saw.',
    `  provider stub requests: ${stub || 'none'}; SQLite floor: ${c.sql_statement_us ?? '-'} µs of CPU per one-row statement`,
    `  one coordinator: ${c.coordinator_grants_per_s ?? '-'} grants/s at best; one lock: ${c.lock_cycles_per_s ?? '-'} cycles/s at best`,
  ].join('\n');
}
