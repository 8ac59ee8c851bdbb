// `npm run bench`: starts the embedded stack, then per scenario shape runs the plain-git floor and the
// service scenarios (each with its own `wrangler dev`), and prints a table plus one JSON line (last).
// Everything started is stopped at the end, on error and on Ctrl-C, with bounded timeouts.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runCapacity } from './capacity/run.ts';
import type { CapacityResult } from './capacity/report.ts';
import { parseCli, scenarios, sizingScenarios, USAGE, type BenchOptions } from './cli.ts';
import { cleanupAll, onCleanup } from './cleanup.ts';
import { runFloor, serialFloor } from './floor.ts';
import { jsonLine, renderReport, type BenchResult, type FloorResult, type ScenarioResult } from './report.ts';
import { expectedTasks, makeRepos, runScenario, type RunContext } from './scenario.ts';
import { startStackProcess } from './stack.ts';
import { bundleWorker } from './worker-process.ts';
import { summarize, type Pcts } from './stats.ts';
import { verifyLanded } from './verify.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const started = performance.now();
const log = (s: string) => process.stderr.write(`[bench +${((performance.now() - started) / 1000).toFixed(1)}s] ${s}\n`);

function options(): BenchOptions {
  let parsed: BenchOptions | null;
  try {
    parsed = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return process.exit(2);
  }
  if (parsed) return parsed;
  console.log(USAGE);
  return process.exit(0);
}
const o = options();

const abort = new AbortController();
let interrupted = 0;
function onSignal(sig: NodeJS.Signals): void {
  interrupted++;
  if (interrupted > 1) {
    log(`${sig} again: exiting now`);
    process.exit(130);
  }
  log(`${sig}: stopping agents, wrangler and the stack (Ctrl-C again to exit at once)…`);
  abort.abort(new Error(`interrupted by ${sig}`));
  void cleanupAll(log).finally(() => process.exit(130));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
const totalTimer = setTimeout(() => {
  log(`total time limit (${o.totalTimeoutS} s) reached: stopping`);
  abort.abort(new Error('total time limit'));
}, o.totalTimeoutS * 1000);
totalTimer.unref();

async function floorFor(ctx: RunContext, agents: number, repos: number, rounds: number, lock: boolean): Promise<FloorResult> {
  const tag = `floor${lock ? '' : '-nolock'}-${agents}x${repos}`;
  const name = `${agents}x${repos} floor${lock ? '' : '-nolock'}`;
  const repoList = await makeRepos(ctx, `${ctx.runId}-${tag}`, repos);
  log(`[${name}] ${agents} plain git clones × ${rounds} rounds on ${repos} repo(s)${lock ? ', pushes serialized per repo in-process' : ', no lock'}`);
  const t0 = performance.now();
  const records = await runFloor({
    gitUrl: ctx.stack.info.git_url, gitToken: ctx.stack.info.git_token, repos: repoList, agents, rounds,
    tag: `${ctx.runId}-${tag}`, dir: path.join(ctx.tmpDir, tag), maxAttempts: lock ? 4 : 50, lock, thinkMs: o.thinkMs,
    signal: AbortSignal.any([abort.signal, AbortSignal.timeout(ctx.scenarioTimeoutMs)]),
  });
  const wall = (performance.now() - t0) / 1000;
  const landed = await verifyLanded(ctx.stack.info.git_root, repoList.map((r) => r.name), expectedTasks(`${ctx.runId}-${tag}`, agents, rounds, repoList), records);
  const summary = summarize(records);
  log(`[${name}] push p50/p90/p99 ${summary.push_ms.p50}/${summary.push_ms.p90}/${summary.push_ms.p99} ms, ${landed.commits_found}/${landed.commits_expected} commits, ${wall.toFixed(1)} s`);
  return { name, lock, agents, repos, rounds, summary, tasks_per_s: Number((summary.tasks_ok / wall).toFixed(3)), commits_expected: landed.commits_expected, commits_found: landed.commits_found, wall_s: Number(wall.toFixed(2)) };
}

/** The commit under test and the uncommitted files in src/ (read-only git). */
function codeVersion(): Promise<{ head: string; dirty: string[] }> {
  const git = (...args: string[]) => new Promise<string>((resolve) => execFile('git', args, { cwd: ROOT, timeout: 10_000 }, (err, out) => resolve(err ? '' : String(out))));
  return Promise.all([git('rev-parse', '--short', 'HEAD'), git('--no-optional-locks', 'status', '--porcelain', '--', 'src', 'wrangler.toml')]).then(([h, st]) => ({
    head: h.trim() || 'unknown',
    dirty: st.split('\n').filter(Boolean).map((l) => l.slice(3)),
  }));
}

async function main(): Promise<BenchResult> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = path.resolve(o.out ?? path.join(ROOT, 'bench', 'results', stamp));
  await mkdir(outDir, { recursive: true });
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'git-sandbox-bench-'));
  if (!o.keepTmp) onCleanup('scratch dir', () => rm(tmpDir, { recursive: true, force: true, maxRetries: 3 }), 30_000);
  log(`logs and results in ${outDir}; scratch in ${tmpDir}`);
  const loadBefore = os.loadavg().map((x) => Number(x.toFixed(2)));

  let workerConfig = '';
  if (!o.capacityOnly || o.sizing) {
    log('bundling the Worker (one build for the whole run)…');
    workerConfig = await bundleWorker(ROOT, path.join(tmpDir, 'bundle'));
  }
  const code = await codeVersion();
  log(`code: ${code.head}${code.dirty.length ? ` + uncommitted changes in ${code.dirty.length} file(s) under src/` : ''}`);
  log(`starting the embedded stack (create latency ${o.createLatencyMs} ms)…`);
  const stack = await startStackProcess({ dir: path.join(tmpDir, 'stack'), createLatencyMs: o.createLatencyMs, logFile: path.join(outDir, 'stack.log') });
  const ctx: RunContext = {
    root: ROOT, workerConfig, outDir, tmpDir, stack, keys: [], runId: randomBytes(3).toString('hex'),
    createPerSec: o.createPerSec, poolCap: o.poolCap, prewarmRepos: o.prewarmRepos, retries: o.retries, thinkMs: o.thinkMs, scenarioTimeoutMs: o.scenarioTimeoutS * 1000, profileCpu: o.profileCpu,
    signal: abort.signal, log,
  };

  const floors: FloorResult[] = [];
  const results: ScenarioResult[] = [];
  let capacity: CapacityResult | null = null;
  if (o.capacity) {
    // First, while nothing else of this run holds CPU: the measurement is CPU-bound.
    capacity = await runCapacity(o.capacity, { root: ROOT, tmpDir, outDir, stack, runId: ctx.runId, signal: abort.signal, log });
  }
  const full = !o.capacityOnly && !o.sizingOnly;
  let serial: Pcts | null = null;
  if (o.floor && full) {
    const repo = await makeRepos(ctx, `${ctx.runId}-floor-serial`, 1);
    const recs = await serialFloor({ gitUrl: stack.info.git_url, gitToken: stack.info.git_token, repos: repo, tag: `${ctx.runId}-floor-serial`, dir: path.join(tmpDir, 'floor-serial'), signal: abort.signal }, 10);
    serial = summarize(recs).push_ms;
    log(`uncontended single push (plain git): p50 ${serial.p50} ms`);
  }
  let calibration: ScenarioResult | null = null;
  if (o.calibration && full && !abort.signal.aborted) {
    calibration = await runScenario(ctx, { name: '1x1 pooled serial', mode: 'pooled', agents: 1, repos: 1, rounds: 10 }, 0, serial);
    log(`[${calibration.name}] uncontended service push p50 ${calibration.push_ms.p50} ms, lease p50 ${calibration.lease_ms.p50} ms`);
  }
  if (o.sizing && (!o.capacityOnly || o.sizingOnly)) {
    for (const spec of sizingScenarios(o.sizing)) {
      if (abort.signal.aborted) break;
      const r = await runScenario(ctx, spec, results.length + 1, null);
      results.push(r);
      log(`[${r.name}] idle sandbox-s/task ${r.idle_sandbox_s_per_task ?? '-'}, warm hit ${(r.reuse_rate * 100).toFixed(1)}%, lease p50 ${r.lease_ms.p50} ms`);
    }
  }
  const specs = scenarios(o);
  for (const shape of full ? o.shapes : []) {
    if (abort.signal.aborted) break;
    let floorPush: Pcts | null = null;
    if (o.floor) {
      const f = await floorFor(ctx, shape.agents, shape.repos, o.rounds, true);
      floors.push(f);
      floorPush = f.summary.push_ms;
      if (shape.agents <= o.nolockFloorMax && !abort.signal.aborted) floors.push(await floorFor(ctx, shape.agents, shape.repos, o.rounds, false));
    }
    for (const spec of specs.filter((s) => s.agents === shape.agents && s.repos === shape.repos)) {
      if (abort.signal.aborted) break;
      const r = await runScenario(ctx, spec, results.length + 1, floorPush);
      results.push(r);
      log(`[${r.name}] lease p99 ${r.lease_ms.p99} ms, push p90 ${r.push_ms.p90} ms, success ${(r.success_rate * 100).toFixed(1)}%, commits ${r.commits_found}/${r.commits_expected}`);
    }
  }
  await stack.stop();

  const locked = floors.filter((f) => f.lock);
  const ten = locked.find((f) => f.agents === 10 && f.repos === 1) ?? locked[0];
  return {
    scenarios: results,
    floor_push_ms: ten?.summary.push_ms ?? null,
    floors,
    floor_serial_push_ms: serial,
    calibration,
    capacity,
    machine: { cpus: os.cpus().length, mem_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, load_before: loadBefore },
    options: { ...o, out: outDir },
    code,
    started_at: new Date(Date.now() - (performance.now() - started)).toISOString(),
    duration_s: Number(((performance.now() - started) / 1000).toFixed(1)),
  };
}

try {
  const result = await main();
  const report = renderReport(result);
  const json = jsonLine(result);
  const outDir = String(result.options.out);
  await writeFile(path.join(outDir, 'report.txt'), `${report}\n`);
  await writeFile(path.join(outDir, 'result.json'), `${json}\n`);
  await cleanupAll(log);
  if (abort.signal.aborted) log('the run was cut short; results are partial');
  process.stdout.write(`${report}\n${json}\n`);
  process.exit(abort.signal.aborted ? 1 : 0);
} catch (e) {
  if (!interrupted) log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  await cleanupAll(log);
  process.exit(1);
}
