// Output: the human table (scenarios, floors, errors, time breakdown, targets) and the final JSON line.
import { renderCapacity, type CapacityResult } from './capacity/report.ts';
import { SERVICE_ROLES } from './cost.ts';
import type { CpuProfile, ProcCounts } from './cpu.ts';
import type { Profile } from './profile.ts';

/** The order push steps are printed in: the path a push takes (unknown steps after these, by name). */
const STEP_ORDER = ['open', 'commit', 'commit_queue', 'enqueue', 'lock_wait', 'wait_for_other', 'claim', 'lander', 'land_script', 'in_fetch', 'in_land', 'in_push', 'in_bundle', 'complete', 'after_landing', 'release', 'entry_read', 'sync', 'total_ms'];
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
  /** CPU seconds of workerd + Postgres + the stack's Node process per completed task (git and sandbox processes excluded). */
  service_cpu_s_per_task: number | null;
  /** Growth of pool_idle_sandbox_seconds_total over the agents' run, per completed task. */
  idle_sandbox_s_per_task: number | null;
  // Extras.
  /** Task time without the modelled think time (= task_ms when --think-ms is 0, but for client gaps). */
  busy_ms: Pcts;
  think_ms: number;
  warm_lease_ms: Pcts;
  cold_lease_ms: Pcts;
  lease_ms_by_source: Record<string, Pcts>;
  write_ms: Pcts;
  release_ms: Pcts;
  lock_wait_ms: Pcts;
  push_attempts_mean: number | null;
  batch_size_mean: number | null;
  batch_size_max: number | null;
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
  /** Pool state when every agent had finished: leases still active there are leaked. */
  /** Agents' leases still active (the repos' lander leases, held by design, are counted apart). */
  pool_after: { leases_active: number | null; lander_leases: number | null; members: Record<string, number> };
  /** CPU seconds by role while the agents ran (Linux /proc). */
  cpu: CpuProfile | null;
  /** Machine-wide process counts while the agents ran. */
  procs: ProcCounts | null;
  settings: Record<string, string>;
}

/** The floor for one scenario shape (plain git, no service). */
export interface FloorResult {
  name: string;
  /** Pushes serialized per repo by an in-process FIFO mutex (true), or lock-free with retry (false). */
  lock: boolean;
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
  /** One agent, ten rounds, pooled: the service's cost per step without queueing or CPU contention. */
  calibration: ScenarioResult | null;
  /** `--capacity`: one coordinator's and one lock's throughput in workerd (absent otherwise). */
  capacity?: CapacityResult | null;
  machine: { cpus: number; mem_gb: number; node: string; load_before: number[] };
  options: Record<string, unknown>;
  /** The commit benchmarked and uncommitted files under src/ at bundle time. */
  code: { head: string; dirty: string[] };
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
    detail: `${s.name}: ${s.commits_found}/${s.commits_expected}${s.commits_found < s.commits_expected ? ` (${s.commits_expected - s.commits_found} tasks failed before pushing)` : ''}, lost ${s.commits_lost}${s.commits_duplicated ? `, ${s.commits_duplicated} twice` : ''}`,
  })));
  add('no lease left active after the agents finished (leak check)', r.scenarios.map((s) => ({
    ok: s.pool_after.leases_active === 0,
    detail: `${s.name}: ${s.pool_after.leases_active ?? '?'}${s.pool_after.lander_leases ? ` (+${s.pool_after.lander_leases} lander, held by design)` : ''}`,
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
  // With think time, compare the time the service costs the agent (think time is the same in both).
  const tk = (s: ScenarioResult) => (s.think_ms > 0 ? s.busy_ms : s.task_ms);
  add('pooled task time <= 0.6x direct (p50)', pairs.map(({ p, d }) => ({
    ok: tk(p).p50 !== null && tk(d).p50 !== null && tk(p).p50! <= 0.6 * tk(d).p50!,
    detail: `${p.agents}x${p.repos}${p.think_ms > 0 ? ' (busy time)' : ''}: ${tk(p).p50 ?? '-'} vs ${tk(d).p50 ?? '-'} ms (${tk(p).p50 && tk(d).p50 ? (tk(p).p50! / tk(d).p50!).toFixed(2) : '-'}x)`,
  })));
  add('service push p50 <= 1.5x the floor at 10 agents', r.scenarios.filter((s) => s.agents === 10 && s.repos === 1 && s.floor_push_ms).map((s) => ({
    ok: s.push_ms.p50 !== null && s.floor_push_ms!.p50 !== null && s.push_ms.p50 <= 1.5 * s.floor_push_ms!.p50,
    detail: `${s.name}: ${s.push_ms.p50 ?? '-'} vs floor ${s.floor_push_ms!.p50 ?? '-'} ms (${s.push_ms.p50 && s.floor_push_ms!.p50 ? (s.push_ms.p50 / s.floor_push_ms!.p50).toFixed(2) : '-'}x)`,
  })));
  add('uncontended warm lease p50 <= 40 ms (calibration)', r.calibration ? [{
    ok: r.calibration.warm_lease_ms.p50 !== null && r.calibration.warm_lease_ms.p50 <= 40,
    detail: `${r.calibration.name}: ${r.calibration.warm_lease_ms.p50 ?? '-'} ms`,
  }] : []);
  add('service CPU per task <= 0.08 s', [...r.scenarios, ...(r.calibration ? [r.calibration] : [])].filter((s) => s.service_cpu_s_per_task !== null).map((s) => ({
    ok: s.service_cpu_s_per_task! <= 0.08,
    detail: `${s.name}: ${s.service_cpu_s_per_task!.toFixed(3)} s`,
  })));
  const fixed = r.scenarios.find((s) => s.name.endsWith('sizing fixed'));
  const demand = r.scenarios.find((s) => s.name.endsWith('sizing demand'));
  add('idle sandbox-s per task at least halved against a fixed pool, at an equal warm hit rate', fixed && demand ? [{
    ok: fixed.idle_sandbox_s_per_task !== null && demand.idle_sandbox_s_per_task !== null && demand.idle_sandbox_s_per_task <= 0.5 * fixed.idle_sandbox_s_per_task && demand.reuse_rate >= fixed.reuse_rate,
    detail: `demand ${demand.idle_sandbox_s_per_task ?? '-'} vs fixed ${fixed.idle_sandbox_s_per_task ?? '-'} s/task (${demand.idle_sandbox_s_per_task !== null && fixed.idle_sandbox_s_per_task ? (demand.idle_sandbox_s_per_task / fixed.idle_sandbox_s_per_task).toFixed(2) : '-'}x), warm hit ${pct(demand.reuse_rate)} vs ${pct(fixed.reuse_rate)}`,
  }] : []);
  if (r.capacity) {
    const c = r.capacity;
    add('one PoolCoordinator >= 1,000 grants/s (capacity)', [{ ok: (c.coordinator_grants_per_s ?? 0) >= 1000, detail: `best ${c.coordinator_grants_per_s ?? '-'} grants/s; ${c.curve.map((x) => `${x.agents} agents ${x.answered ? `${x.grants_per_s}/s p99 ${x.p99_ms ?? '-'} ms` : 'no answer'}`).join(', ')}` }]);
  }
  return out;
}

/** The human-readable report. */
export function renderReport(r: BenchResult): string {
  const lines: string[] = [];
  const head = ['scenario', 'lease p50/90/99', 'warm p99', 'push p50/90/99', 'task p50/90/99', 'tasks/s', 'reuse', 'affin', 'att/push', 'batch', 'success', 'commits'];
  const rows = [head];
  for (const s of [...r.scenarios, ...(r.calibration ? [r.calibration] : [])]) {
    rows.push([
      s.name, trip(s.lease_ms), String(s.warm_lease_ms.p99 ?? '-'), trip(s.push_ms), trip(s.task_ms), s.tasks_per_s.toFixed(2),
      pct(s.reuse_rate), pct(s.affinity_rate), s.push_attempts_mean?.toFixed(2) ?? '-',
      s.batch_size_mean === null ? '-' : `${s.batch_size_mean.toFixed(1)}/${s.batch_size_max}`, pct(s.success_rate), `${s.commits_found}/${s.commits_expected}`,
    ]);
  }
  for (const f of r.floors) {
    rows.push([
      f.name, trip(f.summary.lease_ms), '-', trip(f.summary.push_ms), trip(f.summary.task_ms), f.tasks_per_s.toFixed(2), '-', '-',
      f.summary.push_attempts_mean?.toFixed(2) ?? '-', '-', pct(f.summary.tasks_ok / Math.max(1, f.commits_expected)), `${f.commits_found}/${f.commits_expected}`,
    ]);
  }
  lines.push(`git-sandbox benchmark — ${r.machine.cpus} cores, ${r.machine.mem_gb} GB, node ${r.machine.node}; code ${r.code.head}${r.code.dirty.length ? ' (+uncommitted src changes)' : ''}; all times in ms`);
  lines.push(table(rows));
  lines.push('  floor: plain git clones on the same remote in the same run ("lease" = clone, or fetch + branch), pushes');
  lines.push('  serialized per repo by a free in-process FIFO lock; floor-nolock: the same without a lock (retry + backoff).');
  if (r.floor_serial_push_ms) lines.push(`  uncontended single push (1 clone, commit + fetch + rebase + push): p50/90/99 ${trip(r.floor_serial_push_ms)}`);
  const think = Number(r.options.thinkMs ?? 0);
  if (think > 0) lines.push(`  think time ${think} ms per task (start spread + pause between write and push): task includes it; busy = task minus think`);
  if (r.calibration) lines.push(`  ${r.calibration.name}: 1 agent × ${r.calibration.rounds} rounds, nothing else running (service cost per step without queueing)`);

  lines.push('', 'Breakdown (p50/p90/p99):');
  const b = [['scenario', 'lease acquire', 'lease prepare', 'write', 'push lock wait', 'push work', 'push http+db', 'release', 'lease by source']];
  for (const s of [...r.scenarios, ...(r.calibration ? [r.calibration] : [])]) {
    b.push([
      s.name, trip(s.profile?.lease.acquire_ms), trip(s.profile?.lease.prepare_ms), trip(s.write_ms), trip(s.profile?.push.lock_wait_ms),
      trip(s.profile?.push.work_ms), trip(s.profile?.push.overhead_ms), trip(s.release_ms),
      Object.entries(s.lease_sources).map(([k, v]) => `${k}×${v} ${trip(s.lease_ms_by_source[k])}`).join(', '),
    ]);
  }
  lines.push(table(b));
  lines.push('  lease acquire: request → lease row inserted (auth, pool pick / wait / create); lease prepare: row → response');
  lines.push('  (clone, or fetch + branch, in the sandbox); push lock wait: the response\'s lock_wait_ms (batched landing: enqueue');
  lines.push('  → landed by whichever lock holder); push work: server push time minus that (commit, queue ref, sync);');
  lines.push('  push http+db: agent push time minus server duration (HTTP, auth, bookkeeping writes); release: DELETE');
  lines.push('  (pooled: scrub + check, inline).');
  const stepped = [...r.scenarios, ...(r.calibration ? [r.calibration] : [])].filter((s) => s.profile && Object.keys(s.profile.push.steps ?? {}).length);
  if (stepped.length) {
    lines.push('', 'Push steps, server side (p50/p90 ms; in_*: phases inside the lander\'s land-batch.sh, part of land_script):');
    for (const s of stepped) {
      const rank = (k: string) => (STEP_ORDER.indexOf(k) + STEP_ORDER.length + 1) % (STEP_ORDER.length + 1);
      const steps = Object.entries(s.profile!.push.steps).filter(([, p]) => (p.p90 ?? 0) > 0).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
      lines.push(`  ${s.name}: ${steps.map(([k, p]) => `${k} ${p.p50 ?? '-'}/${p.p90 ?? '-'}`).join(', ')}`);
    }
  }

  const withCpu = [...r.scenarios, ...(r.calibration ? [r.calibration] : [])].filter((s) => s.cpu);
  if (withCpu.length) {
    const roles = ['workerd', 'git + sandbox processes', 'postgres', 'stack node (git server, e2b host, ws proxy)', 'wrangler (node)', 'bench (agents client)'];
    const short = ['workerd', 'git+sandbox', 'postgres', 'stack node', 'wrangler', 'bench'];
    const c = [['scenario', 'wall s', 'busy/capacity', ...short, 'other', 'procs mean/max']];
    for (const s of withCpu) {
      const x = s.cpu!;
      c.push([s.name, String(x.wall_s), `${x.machine_busy_s}/${x.capacity_s} (${Math.round((100 * x.machine_busy_s) / Math.max(0.1, x.capacity_s))}%)`, ...roles.map((k) => String(x.by_role_s[k] ?? 0)), String(x.other_s), s.procs ? `${s.procs.procs_mean}/${s.procs.procs_max}` : '-']);
    }
    lines.push('', 'CPU seconds while the agents ran (capacity = wall × cores; other = processes this run did not start):');
    lines.push(table(c));
  }

  const costed = [...r.scenarios, ...(r.calibration ? [r.calibration] : [])].filter((s) => s.cpu || s.idle_sandbox_s_per_task !== null);
  if (costed.length) {
    const c = [['scenario', 'tasks', 'service CPU s/task', 'workerd', 'postgres', 'stack node', 'idle sandbox-s/task']];
    for (const s of costed) {
      const tasks = Math.round(s.success_rate * s.agents * s.rounds);
      const each = (k: string) => (s.cpu && tasks ? ((s.cpu.by_role_s[k] ?? 0) / tasks).toFixed(3) : '-');
      c.push([s.name, String(tasks), s.service_cpu_s_per_task?.toFixed(3) ?? '-', ...SERVICE_ROLES.map(each), s.idle_sandbox_s_per_task?.toFixed(2) ?? '-']);
    }
    lines.push('', 'Cost per completed task (service CPU = workerd + postgres + stack node, git and sandbox processes excluded;');
    lines.push('idle sandbox-s = growth of pool_idle_sandbox_seconds_total while the agents ran):');
    lines.push(table(c));
  }

  if (r.capacity) lines.push('', renderCapacity(r.capacity));

  const errs = [...r.scenarios, ...(r.calibration ? [r.calibration] : [])].filter((s) => Object.keys(s.errors).length || Object.keys(s.log_events).length);
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
    floors: r.floors.map((f) => ({ name: f.name, lock: f.lock, agents: f.agents, repos: f.repos, rounds: f.rounds, lease_ms: f.summary.lease_ms, push_ms: f.summary.push_ms, task_ms: f.summary.task_ms, tasks_per_s: f.tasks_per_s, push_attempts_mean: f.summary.push_attempts_mean, commits_expected: f.commits_expected, commits_found: f.commits_found })),
    floor_serial_push_ms: r.floor_serial_push_ms,
    calibration: r.calibration,
    ...(r.capacity ? { capacity: r.capacity } : {}),
    targets: checkTargets(r),
    machine: r.machine,
    options: r.options,
    code: r.code,
    started_at: r.started_at,
    duration_s: r.duration_s,
  });
}
