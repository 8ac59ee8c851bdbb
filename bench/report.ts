// Output: the human table (scenarios, floors, errors, time breakdown, targets) and the final JSON line.
import type { Profile } from './profile.ts';
import type { Pcts, TaskSummary } from './stats.ts';

/** One service scenario's result; the first block of keys is the stable JSON contract. */
export interface ScenarioResult {
  name: string;
  mode: 'pooled' | 'direct';
  agents: number;
  repos: number;
  rounds: number;
  lease_ms: Pcts;
  push_ms: Pcts;
  task_ms: Pcts;
  tasks_per_s: number;
  reuse_rate: number;
  affinity_rate: number;
  success_rate: number;
  commits_expected: number;
  commits_found: number;
  // Extras.
  warm_lease_ms: Pcts;
  cold_lease_ms: Pcts;
  write_ms: Pcts;
  release_ms: Pcts;
  lock_wait_ms: Pcts;
  push_attempts_mean: number | null;
  lease_sources: Record<string, number>;
  commits_lost: number;
  commits_duplicated: number;
  files_missing: number;
  errors: Record<string, number>;
  /** Sample failure messages (first few), for the lead. */
  error_samples: string[];
  /** warn/error events in the Worker's log, by event (and code). */
  log_events: Record<string, number>;
  wall_s: number;
  prewarm_s: number | null;
  floor_push_ms: Pcts | null;
  profile: Profile | null;
  pool_counters: Record<string, number>;
  settings: Record<string, string>;
}

/** The floor for one scenario shape (plain git, no service). */
export interface FloorResult {
  name: string;
  agents: number;
  repos: number;
  rounds: number;
  summary: TaskSummary;
  tasks_per_s: number;
  commits_expected: number;
  commits_found: number;
  wall_s: number;
}

/** The whole run. */
export interface BenchResult {
  scenarios: ScenarioResult[];
  floor_push_ms: Pcts | null;
  floors: FloorResult[];
  floor_serial_push_ms: Pcts | null;
  machine: { cpus: number; mem_gb: number; node: string; load_before: number[] };
  options: Record<string, unknown>;
  started_at: string;
  duration_s: number;
}

const trip = (p: Pcts | null | undefined) => (p ? `${p.p50 ?? '-'}/${p.p90 ?? '-'}/${p.p99 ?? '-'}` : '-');
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd()).join('\n');
}

/** A target line: PASS/FAIL/n/a with the measured value. */
export interface TargetCheck {
  target: string;
  status: 'PASS' | 'FAIL' | 'n/a';
  detail: string;
}

/** Evaluates the design's targets (§8 and issue 7) against the results. */
export function checkTargets(r: BenchResult): TargetCheck[] {
  const out: TargetCheck[] = [];
  const add = (target: string, rows: { ok: boolean; detail: string }[]) =>
    out.push({ target, status: rows.length === 0 ? 'n/a' : rows.every((x) => x.ok) ? 'PASS' : 'FAIL', detail: rows.map((x) => x.detail).join('; ') || 'no matching scenario' });
  add('commits_found == commits_expected, none lost or duplicated', r.scenarios.map((s) => ({
    ok: s.commits_found === s.commits_expected && s.commits_lost === 0 && s.commits_duplicated === 0,
    detail: `${s.name}: ${s.commits_found}/${s.commits_expected}${s.commits_lost ? `, ${s.commits_lost} lost` : ''}${s.commits_duplicated ? `, ${s.commits_duplicated} twice` : ''}`,
  })));
  add('success 100% (non-conflicting work)', r.scenarios.map((s) => ({ ok: s.success_rate === 1, detail: `${s.name}: ${pct(s.success_rate)}` })));
  add('warm lease p99 < 250 ms at 100 agents (pooled)', r.scenarios.filter((s) => s.mode === 'pooled' && s.agents >= 100).map((s) => ({
    ok: s.warm_lease_ms.p99 !== null && s.warm_lease_ms.p99 < 250,
    detail: `${s.name}: ${s.warm_lease_ms.p99 ?? '-'} ms`,
  })));
  add('push p90 < 1 s at 10 agents on one repo', r.scenarios.filter((s) => s.agents === 10 && s.repos === 1).map((s) => ({
    ok: s.push_ms.p90 !== null && s.push_ms.p90 < 1000,
    detail: `${s.name}: ${s.push_ms.p90 ?? '-'} ms`,
  })));
  add('push p90 < 10 s at 100 agents on one repo', r.scenarios.filter((s) => s.agents === 100 && s.repos === 1).map((s) => ({
    ok: s.push_ms.p90 !== null && s.push_ms.p90 < 10_000,
    detail: `${s.name}: ${s.push_ms.p90 ?? '-'} ms`,
  })));
  add('reuse >= 95% (pooled)', r.scenarios.filter((s) => s.mode === 'pooled').map((s) => ({ ok: s.reuse_rate >= 0.95, detail: `${s.name}: ${pct(s.reuse_rate)}` })));
  const pairs = r.scenarios.filter((s) => s.mode === 'pooled').flatMap((p) => {
    const d = r.scenarios.find((s) => s.mode === 'direct' && s.agents === p.agents && s.repos === p.repos && s.rounds === p.rounds);
    return d ? [{ p, d }] : [];
  });
  add('pooled task time well under direct (p50 <= 0.75x)', pairs.map(({ p, d }) => ({
    ok: p.task_ms.p50 !== null && d.task_ms.p50 !== null && p.task_ms.p50 <= 0.75 * d.task_ms.p50,
    detail: `${p.agents}x${p.repos}: ${p.task_ms.p50 ?? '-'} vs ${d.task_ms.p50 ?? '-'} ms (${p.task_ms.p50 && d.task_ms.p50 ? (p.task_ms.p50 / d.task_ms.p50).toFixed(2) : '-'}x)`,
  })));
  add('service push p50 within 2x the floor at 10 agents', r.scenarios.filter((s) => s.agents === 10 && s.repos === 1 && s.floor_push_ms).map((s) => ({
    ok: s.push_ms.p50 !== null && s.floor_push_ms!.p50 !== null && s.push_ms.p50 <= 2 * s.floor_push_ms!.p50,
    detail: `${s.name}: ${s.push_ms.p50 ?? '-'} vs floor ${s.floor_push_ms!.p50 ?? '-'} ms (${s.push_ms.p50 && s.floor_push_ms!.p50 ? (s.push_ms.p50 / s.floor_push_ms!.p50).toFixed(2) : '-'}x)`,
  })));
  return out;
}

/** The human-readable report. */
export function renderReport(r: BenchResult): string {
  const lines: string[] = [];
  const head = ['scenario', 'lease p50/90/99', 'warm p99', 'push p50/90/99', 'task p50/90/99', 'tasks/s', 'reuse', 'affin', 'att/push', 'success', 'commits'];
  const rows = [head];
  for (const s of r.scenarios) {
    rows.push([
      s.name, trip(s.lease_ms), String(s.warm_lease_ms.p99 ?? '-'), trip(s.push_ms), trip(s.task_ms), s.tasks_per_s.toFixed(2),
      pct(s.reuse_rate), pct(s.affinity_rate), s.push_attempts_mean?.toFixed(2) ?? '-', pct(s.success_rate), `${s.commits_found}/${s.commits_expected}`,
    ]);
  }
  for (const f of r.floors) {
    rows.push([
      f.name, trip(f.summary.lease_ms), '-', trip(f.summary.push_ms), trip(f.summary.task_ms), f.tasks_per_s.toFixed(2), '-', '-',
      f.summary.push_attempts_mean?.toFixed(2) ?? '-', pct(f.summary.tasks_ok / Math.max(1, f.commits_expected)), `${f.commits_found}/${f.commits_expected}`,
    ]);
  }
  lines.push(`git-sandbox benchmark — ${r.machine.cpus} cores, ${r.machine.mem_gb} GB, node ${r.machine.node}; all times in ms`);
  lines.push(table(rows));
  lines.push('  (floor rows: plain git clones, "lease" = clone or fetch, same remote and same run)');
  if (r.floor_serial_push_ms) lines.push(`  uncontended single push (1 clone, commit + fetch + rebase + push): p50/90/99 ${trip(r.floor_serial_push_ms)}`);

  lines.push('', 'Breakdown (p50/p90/p99):');
  const b = [['scenario', 'lease acquire', 'lease prepare', 'write', 'push lock wait', 'push work', 'push http+db', 'release', 'sources']];
  for (const s of r.scenarios) {
    b.push([
      s.name, trip(s.profile?.lease.acquire_ms), trip(s.profile?.lease.prepare_ms), trip(s.write_ms), trip(s.profile?.push.lock_wait_ms),
      trip(s.profile?.push.work_ms), trip(s.profile?.push.overhead_ms), trip(s.release_ms),
      Object.entries(s.lease_sources).map(([k, v]) => `${k}:${v}`).join(' '),
    ]);
  }
  lines.push(table(b));

  const errs = r.scenarios.filter((s) => Object.keys(s.errors).length || Object.keys(s.log_events).length);
  if (errs.length || r.floors.some((f) => Object.keys(f.summary.errors).length)) {
    lines.push('', 'Errors (step:CODE count; retried calls included) and Worker warn/error log events:');
    for (const s of errs) {
      lines.push(`  ${s.name}: ${Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
      if (Object.keys(s.log_events).length) lines.push(`    log: ${Object.entries(s.log_events).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      for (const m of s.error_samples) lines.push(`    e.g. ${m}`);
    }
    for (const f of r.floors) if (Object.keys(f.summary.errors).length) lines.push(`  ${f.name}: ${Object.entries(f.summary.errors).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }

  lines.push('', 'Targets:');
  for (const t of checkTargets(r)) lines.push(`  [${t.status}] ${t.target} — ${t.detail}`);
  return lines.join('\n');
}

/** The final JSON line: the contract keys first, extras after. */
export function jsonLine(r: BenchResult): string {
  return JSON.stringify({
    scenarios: r.scenarios,
    floor_push_ms: r.floor_push_ms,
    floors: r.floors.map((f) => ({ name: f.name, agents: f.agents, repos: f.repos, rounds: f.rounds, lease_ms: f.summary.lease_ms, push_ms: f.summary.push_ms, task_ms: f.summary.task_ms, tasks_per_s: f.tasks_per_s, push_attempts_mean: f.summary.push_attempts_mean, commits_expected: f.commits_expected, commits_found: f.commits_found })),
    floor_serial_push_ms: r.floor_serial_push_ms,
    targets: checkTargets(r),
    machine: r.machine,
    options: r.options,
    started_at: r.started_at,
    duration_s: r.duration_s,
  });
}
