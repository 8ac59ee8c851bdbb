// `npm run bench`: starts the embedded stack, then per scenario shape runs the plain-git floor and the
// service scenarios (each with its own `wrangler dev`), and prints a table plus one JSON line (last).
// Everything started is stopped at the end, on error and on Ctrl-C, with bounded timeouts.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseCli, scenarios, USAGE, type BenchOptions } from './cli.ts';
import { cleanupAll, onCleanup } from './cleanup.ts';
import { runFloor, serialFloor } from './floor.ts';
import { jsonLine, renderReport, type BenchResult, type FloorResult, type ScenarioResult } from './report.ts';
import { expectedTasks, makeRepos, runScenario, type RunContext } from './scenario.ts';
import { startStackProcess } from './stack.ts';
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

async function floorFor(ctx: RunContext, agents: number, repos: number, rounds: number): Promise<FloorResult> {
  const tag = `floor-${agents}x${repos}`;
  const repoList = await makeRepos(ctx, `${ctx.runId}-${tag}`, repos);
  log(`[${agents}x${repos} floor] ${agents} plain git clones × ${rounds} rounds on ${repos} repo(s)`);
  const t0 = performance.now();
  const records = await runFloor({
    gitUrl: ctx.stack.info.git_url, gitToken: ctx.stack.info.git_token, repos: repoList, agents, rounds,
    tag: `${ctx.runId}-${tag}`, dir: path.join(ctx.tmpDir, tag), maxAttempts: 100, signal: abort.signal,
  });
  const wall = (performance.now() - t0) / 1000;
  const landed = await verifyLanded(ctx.stack.info.git_root, repoList.map((r) => r.name), expectedTasks(`${ctx.runId}-${tag}`, agents, rounds, repoList), records);
  const summary = summarize(records);
  return { name: `${agents}x${repos} floor`, agents, repos, rounds, summary, tasks_per_s: Number((summary.tasks_ok / wall).toFixed(3)), commits_expected: landed.commits_expected, commits_found: landed.commits_found, wall_s: Number(wall.toFixed(2)) };
}

async function main(): Promise<BenchResult> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = path.resolve(o.out ?? path.join(ROOT, 'bench', 'results', stamp));
  await mkdir(outDir, { recursive: true });
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'git-sandbox-bench-'));
  if (!o.keepTmp) onCleanup('scratch dir', () => rm(tmpDir, { recursive: true, force: true, maxRetries: 3 }), 30_000);
  log(`logs and results in ${outDir}; scratch in ${tmpDir}`);
  const loadBefore = os.loadavg().map((x) => Number(x.toFixed(2)));

  log(`starting the embedded stack (create latency ${o.createLatencyMs} ms)…`);
  const stack = await startStackProcess({ dir: path.join(tmpDir, 'stack'), createLatencyMs: o.createLatencyMs, logFile: path.join(outDir, 'stack.log') });
  const ctx: RunContext = {
    root: ROOT, outDir, tmpDir, stack, keys: [], runId: randomBytes(3).toString('hex'),
    createPerSec: o.createPerSec, poolCap: o.poolCap, retries: o.retries, scenarioTimeoutMs: o.scenarioTimeoutS * 1000,
    signal: abort.signal, log,
  };

  const floors: FloorResult[] = [];
  const results: ScenarioResult[] = [];
  let serial: Pcts | null = null;
  if (o.floor) {
    const repo = await makeRepos(ctx, `${ctx.runId}-floor-serial`, 1);
    const recs = await serialFloor({ gitUrl: stack.info.git_url, gitToken: stack.info.git_token, repos: repo, tag: `${ctx.runId}-floor-serial`, dir: path.join(tmpDir, 'floor-serial'), signal: abort.signal }, 10);
    serial = summarize(recs).push_ms;
    log(`uncontended single push (plain git): p50 ${serial.p50} ms`);
  }
  const specs = scenarios(o);
  for (const shape of o.shapes) {
    if (abort.signal.aborted) break;
    let floorPush: Pcts | null = null;
    if (o.floor) {
      const f = await floorFor(ctx, shape.agents, shape.repos, o.rounds);
      floors.push(f);
      floorPush = f.summary.push_ms;
      log(`[${f.name}] push p50/p90/p99 ${floorPush.p50}/${floorPush.p90}/${floorPush.p99} ms, ${f.commits_found}/${f.commits_expected} commits`);
    }
    for (const spec of specs.filter((s) => s.agents === shape.agents && s.repos === shape.repos)) {
      if (abort.signal.aborted) break;
      const r = await runScenario(ctx, spec, results.length + 1, floorPush);
      results.push(r);
      log(`[${r.name}] lease p99 ${r.lease_ms.p99} ms, push p90 ${r.push_ms.p90} ms, success ${(r.success_rate * 100).toFixed(1)}%, commits ${r.commits_found}/${r.commits_expected}`);
    }
  }
  await stack.stop();

  const ten = floors.find((f) => f.agents === 10 && f.repos === 1) ?? floors[0];
  return {
    scenarios: results,
    floor_push_ms: ten?.summary.push_ms ?? null,
    floors,
    floor_serial_push_ms: serial,
    machine: { cpus: os.cpus().length, mem_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, load_before: loadBefore },
    options: { ...o, out: outDir },
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
  log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  await cleanupAll(log);
  process.exit(1);
}
