// The capacity results: their JSON shape and the table printed with the bench report.
import type { Pcts } from './types.ts';

/** One driver run: a coordinator level, a shard count, the no-op RPC floor or a lock level. */
export interface LevelResult {
  kind: 'pool' | 'rpc' | 'lock';
  agents: number;
  shards: number;
  members_per_shard?: number;
  /** Grants, lock cycles or no-op calls completed in the measuring window. */
  ops: number;
  ops_per_s: number;
  /** Grant (acquire) latency; for the lock, the lock's acquire; for rpc, the call. */
  acquire_ms: Pcts;
  release_ms: Pcts | null;
  errors: Record<string, number>;
  /** CPU seconds of workerd in the window, that per window second, and per operation. */
  workerd_cpu_s: number | null;
  workerd_busy: number | null;
  workerd_cpu_ms_per_op: number | null;
  cpu_by_role_s: Record<string, number> | null;
  /** With --capacity-profile: the isolate's hottest functions by self time over the window. */
  hot?: { fn: string; self_ms: number; share: number }[];
}

/** The `capacity` key of the bench JSON. */
export interface CapacityResult {
  /** Best grants/s of one coordinator over the curve. */
  coordinator_grants_per_s: number | null;
  /** Best acquire/release cycles/s of one RepoLock over the lock levels. */
  lock_cycles_per_s: number | null;
  curve: { agents: number; grants_per_s: number; p50_ms: number | null; p99_ms: number | null }[];
  /** K coordinators, agent i on shard i mod K, all in the one workerd process. */
  shards: { shards: number; agents: number; grants_per_s: number; p50_ms: number | null; p99_ms: number | null }[];
  lock_curve: { agents: number; cycles_per_s: number; p50_ms: number | null; p99_ms: number | null }[];
  levels: LevelResult[];
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
  const rows = [['run', 'agents', 'shards', 'ops/s', 'acquire p50/90/99', 'release p50/90/99', 'workerd busy', 'CPU ms/op', 'errors']];
  for (const l of c.levels) {
    const name = l.kind === 'pool' ? 'coordinator' : l.kind === 'rpc' ? 'no-op RPC' : 'repo lock';
    rows.push([
      name, String(l.agents), String(l.shards), l.ops_per_s.toFixed(0), trip(l.acquire_ms), trip(l.release_ms),
      l.workerd_busy === null ? '-' : `${Math.round(l.workerd_busy * 100)}%`, l.workerd_cpu_ms_per_op?.toFixed(2) ?? '-',
      Object.entries(l.errors).map(([k, v]) => `${k} ${v}`).join(', ') || '-',
    ]);
  }
  const stub = Object.entries(c.stub_requests).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `Capacity (in workerd, sandbox side stubbed; ${Number(c.options.durationMs) / 1000} s per run after ${Number(c.options.warmupMs) / 1000} s warm-up; all times in ms):`,
    table(rows),
    '  coordinator: closed loop, each agent acquire → release back to back on a coordinator seeded with one idle member per',
    '  agent (per shard: agents / K); release scrubs through the provider stub, the history goes to Postgres. ops = grants.',
    '  no-op RPC: the driver and the RPC path alone. repo lock: acquire → release; agents > 1 queue behind the holder.',
    '  workerd busy: workerd CPU seconds per second (the driver runs in the same process).',
    `  provider stub requests: ${stub || 'none'}`,
    `  one coordinator: ${c.coordinator_grants_per_s ?? '-'} grants/s at best; one lock: ${c.lock_cycles_per_s ?? '-'} cycles/s at best`,
  ].join('\n');
}
