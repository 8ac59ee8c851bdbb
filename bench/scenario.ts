// One service scenario: fresh bare repos, a fresh `wrangler dev` configured for the mode, agent keys,
// pool pre-warm (pooled), the agents, then the checks on the remotes, the profile and the teardown.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createBareRepo } from '../local/git-server.ts';
import { runAgents, type AgentKey, type TaskRecord } from './agents.ts';
import { call, mapLimit, type ApiResult } from './api.ts';
import { idleSandboxPerTask, serviceCpuPerTask } from './cost.ts';
import { cpuDiff, sampleCpu, startProcSampler, type CpuProfile, type ProcCounts } from './cpu.ts';
import { sleep } from './cleanup.ts';
import { profileScenario } from './profile.ts';
import type { ScenarioResult } from './report.ts';
import { killAllSandboxes, type StackProcess } from './stack.ts';
import { summarize, type Pcts } from './stats.ts';
import { verifyLanded } from './verify.ts';
import { startWorker } from './worker-process.ts';
import { startProfile } from './capacity/inspector.ts';

/** The reserved agent id of the service-owned lander leases (src/gateway/ref-rules.ts). */
const LANDER_AGENT = '@lander';

/** What to run. */
export interface ScenarioSpec {
  name: string;
  mode: 'pooled' | 'direct';
  agents: number;
  repos: number;
  rounds: number;
  /** Worker vars on top of the scenario's defaults (the pool-sizing comparison sets POOL_MIN/POOL_MAX). */
  vars?: Record<string, string>;
  /** Rounds every agent runs before the measured ones (unmeasured; the pool sees the demand first). */
  warmupRounds?: number;
  /** Think time of this scenario's agents (default: the run's --think-ms). */
  thinkMs?: number;
}

/** Shared state and knobs of the run. */
export interface RunContext {
  root: string;
  /** wrangler config of the Worker bundle built for this run. */
  workerConfig: string;
  /** Directory for logs and results of this run. */
  outDir: string;
  /** Scratch directory (env files, DO state). */
  tmpDir: string;
  stack: StackProcess;
  /** API keys created so far (Postgres keeps them across wrangler restarts). */
  keys: AgentKey[];
  runId: string;
  createPerSec: number;
  poolCap: number;
  /** Pooled scenarios set PREWARM_REPOS to their repos. */
  prewarmRepos: boolean;
  retries: number;
  thinkMs: number;
  scenarioTimeoutMs: number;
  /** CPU-profile the Worker's isolate while the agents run (<outDir>/scenario-<tag>.cpuprofile). */
  profileCpu?: boolean;
  signal: AbortSignal;
  log: (s: string) => void;
}

/** The Worker vars of a scenario (on top of the stack's bindings). */
export function scenarioVars(spec: ScenarioSpec, ctx: Pick<RunContext, 'createPerSec' | 'poolCap' | 'prewarmRepos'>, repoUrls: string[]): Record<string, string> {
  const pooled = spec.mode === 'pooled';
  return {
    PREWARM_REPOS: pooled && ctx.prewarmRepos ? repoUrls.join(',') : '',
    POOLED_PERCENT: pooled ? '100' : '0',
    POOL_MIN: String(pooled ? Math.min(spec.agents, ctx.poolCap) : 0),
    // Pooled: room for the one spare demand sizing keeps, so an agent that leases again right after
    // a release finds a member instead of waiting for its old one's scrub.
    POOL_MAX: String(pooled ? spec.agents + 1 : 0),
    // One lander sandbox per repo (the service-owned sandbox batched landings run in) on top of the agents' (and the spare).
    MAX_SANDBOXES: String(spec.agents + spec.repos + (pooled ? 1 : 0)),
    CREATE_PER_SEC: String(ctx.createPerSec),
    LEASE_WAIT_MS: '60000',
    MAX_WAITERS: '1000',
    LOCK_WAIT_MS: '120000',
    LOCK_TTL_S: '30',
    PUSH_MAX_RETRIES: '3',
    SANDBOX_TTL_S: '3600',
    IDLE_MAX_AGE_S: '3600',
    MAX_LEASES_PER_AGENT: '10',
    LOG_LEVEL: 'info',
    ...spec.vars,
  };
}

/** Creates bare repos `<prefix>-r<j>` and returns their names and URLs. */
export async function makeRepos(ctx: RunContext, prefix: string, n: number): Promise<{ name: string; url: string }[]> {
  const repos = Array.from({ length: n }, (_, j) => ({ name: `${prefix}-r${j}`, url: `${ctx.stack.info.git_url}/${prefix}-r${j}.git` }));
  await mapLimit(repos, 4, (r) => createBareRepo(ctx.stack.info.git_root, r.name));
  return repos;
}

async function ensureKeys(ctx: RunContext, apiUrl: string, n: number): Promise<void> {
  const missing = Array.from({ length: Math.max(0, n - ctx.keys.length) }, (_, i) => `bench-${ctx.runId}-a${ctx.keys.length + i}`);
  const made = await mapLimit(missing, 8, async (agentId) => {
    const r = await call(apiUrl, 'POST', '/v1/admin/keys', { key: ctx.stack.info.admin_token, json: { agent_id: agentId }, timeoutMs: 30_000 });
    if (r.code) throw new Error(`POST /v1/admin/keys for ${agentId} answered ${r.status} ${r.code}: ${r.message}`);
    return { agentId, key: r.body.key as string };
  });
  ctx.keys.push(...made);
}

async function poolStats(ctx: RunContext, apiUrl: string): Promise<{ members: Record<string, number>; counters: Record<string, number>; leases_active?: number }> {
  const r = await call(apiUrl, 'GET', '/v1/admin/pool', { key: ctx.stack.info.admin_token, timeoutMs: 15_000 });
  if (r.code) throw new Error(`GET /v1/admin/pool answered ${r.status} ${r.code}: ${r.message}`);
  return r.body;
}

/** Active leases after a run, split into agents' (a leak) and the repos' landers (held by design for LANDER_IDLE_S). */
async function activeLeases(ctx: RunContext, apiUrl: string): Promise<{ agents: number; landers: number } | null> {
  let agents = 0;
  let landers = 0;
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const r: ApiResult<{ leases: { agent_id: string }[]; next_cursor: string | null }> = await call(apiUrl, 'GET', `/v1/admin/leases?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { key: ctx.stack.info.admin_token, timeoutMs: 15_000 });
    if (r.code) return null;
    for (const l of r.body.leases) {
      if (l.agent_id === LANDER_AGENT) landers++;
      else agents++;
    }
    cursor = r.body.next_cursor;
    if (!cursor) break;
  }
  return { agents, landers };
}

/** Triggers the health cron (its sweep refills the pool) and waits until POOL_MIN members are idle. */
async function prewarm(ctx: RunContext, apiUrl: string, want: number): Promise<number> {
  const t0 = performance.now();
  const deadline = Date.now() + 60_000 + (want / ctx.createPerSec) * 2000;
  // No REST route warms the pool and the DO only arms its alarm on first use; the */5 health cron runs
  // the same refill. Miniflare's trigger endpoint fires it (the bundle runs with --no-bundle, so
  // wrangler's /__scheduled middleware is absent).
  const cron = encodeURIComponent('*/5 * * * *');
  const status = await fetch(`${apiUrl}/cdn-cgi/local/scheduled?cron=${cron}`, { signal: AbortSignal.timeout(120_000) }).then((r) => (r.body?.cancel(), r.status), () => 0);
  if (status !== 200) throw new Error(`pool pre-warm: the scheduled trigger answered ${status}`);
  let last = 0;
  while (Date.now() < deadline && !ctx.signal.aborted) {
    const s = await poolStats(ctx, apiUrl);
    last = s.members['idle:pooled'] ?? 0;
    if (last >= want) return (performance.now() - t0) / 1000;
    await sleep(500, ctx.signal).catch(() => {});
  }
  throw new Error(`pool pre-warm: ${last}/${want} idle after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

/** warn/error events of the Worker's JSON log lines, counted by event (and error code). */
export async function logEvents(file: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const i = line.indexOf('{"ts"');
    if (i < 0) continue;
    try {
      const o = JSON.parse(line.slice(i)) as { level?: string; event?: string; code?: string };
      if (o.level !== 'warn' && o.level !== 'error') continue;
      const k = `${o.level}:${o.event}${o.code ? `:${o.code}` : ''}`;
      out[k] = (out[k] ?? 0) + 1;
    } catch {
      // not one of the Worker's lines
    }
  }
  return out;
}

const rate = (n: number, d: number) => (d ? n / d : 0);
const thinkMsOf = (spec: ScenarioSpec, ctx: RunContext) => spec.thinkMs ?? ctx.thinkMs;

/** Every planned task's repo, commit message and file (the agents and the floor name them alike). */
export function expectedTasks(tag: string, agents: number, rounds: number, repos: { name: string }[]): { repo: string; message: string; file: string }[] {
  return Array.from({ length: agents * rounds }, (_, k) => {
    const agent = k % agents;
    const taskId = `${tag}-a${agent}-r${Math.floor(k / agents) + 1}`;
    return { repo: repos[agent % repos.length].name, message: `bench ${taskId}`, file: `bench/${taskId}.txt` };
  });
}

/** Runs one scenario end to end and tears its Worker and sandboxes down again. */
export async function runScenario(ctx: RunContext, spec: ScenarioSpec, index: number, floorPush: Pcts | null): Promise<ScenarioResult> {
  const tag = `s${index}-${spec.mode}-${spec.agents}x${spec.repos}`;
  const repos = await makeRepos(ctx, `${ctx.runId}-${tag}`, spec.repos);
  const vars = scenarioVars(spec, ctx, repos.map((r) => r.url));
  const logFile = path.join(ctx.outDir, `worker-${tag}.log`);
  ctx.log(`[${spec.name}] starting wrangler dev (${Object.entries(vars).filter(([k]) => (k.startsWith('POOL') || k === 'MAX_SANDBOXES') && k !== 'POOL_MAX').map(([k, v]) => `${k}=${v}`).join(' ')})`);
  const worker = await startWorker({ root: ctx.root, config: ctx.workerConfig, vars: { ...ctx.stack.bindings, ...vars }, dir: path.join(ctx.tmpDir, tag), logFile });
  let records: TaskRecord[] = [];
  let prewarmS: number | null = null;
  let wallS = 0;
  let counters: Record<string, number> = {};
  let before: Record<string, number> = {};
  let active: { agents: number; landers: number } | null = null;
  let cpu: CpuProfile | null = null;
  let procs: ProcCounts | null = null;
  let after: { leases_active?: number; members: Record<string, number>; counters: Record<string, number> } = { members: {}, counters: {} };
  try {
    await ensureKeys(ctx, worker.url, spec.agents);
    if (spec.mode === 'pooled') {
      prewarmS = await prewarm(ctx, worker.url, Number(vars.POOL_MIN));
      ctx.log(`[${spec.name}] pool pre-warmed: ${vars.POOL_MIN} idle in ${prewarmS.toFixed(1)} s`);
    }
    const thinkMs = thinkMsOf(spec, ctx);
    if (spec.warmupRounds) {
      ctx.log(`[${spec.name}] warm-up: ${spec.agents} agents × ${spec.warmupRounds} round(s), not measured`);
      const warm = await runAgents({ apiUrl: worker.url, keys: ctx.keys.slice(0, spec.agents), repos, rounds: spec.warmupRounds, tag: `${ctx.runId}-${tag}-warmup`, retries: ctx.retries, thinkMs, signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.scenarioTimeoutMs)]) });
      const failed = warm.filter((r) => !r.ok).length;
      if (failed) ctx.log(`[${spec.name}] warm-up: ${failed} task(s) failed`);
    }
    before = (await poolStats(ctx, worker.url)).counters;
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.scenarioTimeoutMs)]);
    ctx.log(`[${spec.name}] running ${spec.agents} agents × ${spec.rounds} rounds on ${spec.repos} repo(s)`);
    const roots = { stackPid: ctx.stack.pid, wranglerPid: worker.pid };
    const cpu0 = sampleCpu(roots);
    const sampler = startProcSampler();
    const profiling = ctx.profileCpu ? await startProfile(worker.inspectorPort).catch((e: unknown) => (ctx.log(`[${spec.name}] profile: ${String(e)}`), null)) : null;
    const t0 = performance.now();
    records = await runAgents({ apiUrl: worker.url, keys: ctx.keys.slice(0, spec.agents), repos, rounds: spec.rounds, tag: `${ctx.runId}-${tag}`, retries: ctx.retries, thinkMs, signal });
    wallS = (performance.now() - t0) / 1000;
    if (profiling) {
      const hot = await profiling.stop(path.join(ctx.outDir, `scenario-${tag}.cpuprofile`)).catch(() => []);
      ctx.log(`[${spec.name}] hottest: ${hot.slice(0, 10).map((h) => `${h.fn} ${(h.share * 100).toFixed(0)}%`).join(', ')}`);
    }
    cpu = cpuDiff(cpu0, sampleCpu(roots), os.cpus().length);
    procs = sampler.stop();
    if (signal.aborted && !ctx.signal.aborted) ctx.log(`[${spec.name}] stopped at the scenario time limit (${ctx.scenarioTimeoutMs / 1000} s)`);
    after = await poolStats(ctx, worker.url);
    active = await activeLeases(ctx, worker.url);
    counters = Object.fromEntries(Object.entries(after.counters).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0));
  } finally {
    await worker.stop();
    const killed = await killAllSandboxes(ctx.stack.info).catch((e) => (ctx.log(`[${spec.name}] sandbox cleanup: ${e}`), 0));
    ctx.log(`[${spec.name}] wrangler stopped; ${killed} sandbox(es) killed`);
  }

  const expected = expectedTasks(`${ctx.runId}-${tag}`, spec.agents, spec.rounds, repos);
  const landed = await verifyLanded(ctx.stack.info.git_root, repos.map((r) => r.name), expected, records);
  const profile = await profileScenario(ctx.stack.info.database_url, records).catch((e) => (ctx.log(`[${spec.name}] profile failed: ${e}`), null));
  const sum = summarize(records);
  const leases = records.filter((r) => r.lease_source);
  const planned = spec.agents * spec.rounds;
  return {
    name: spec.name,
    mode: spec.mode,
    agents: spec.agents,
    repos: spec.repos,
    rounds: spec.rounds,
    lease_ms: sum.lease_ms,
    push_ms: sum.push_ms,
    task_ms: sum.task_ms,
    tasks_per_s: Number(rate(sum.tasks_ok, wallS).toFixed(3)),
    reuse_rate: Number(rate(leases.filter((r) => r.lease_source === 'warm' || r.lease_source === 'affinity').length, leases.length).toFixed(4)),
    affinity_rate: Number(rate(leases.filter((r) => r.lease_source === 'affinity').length, leases.length).toFixed(4)),
    success_rate: Number(rate(sum.tasks_ok, planned).toFixed(4)),
    commits_expected: landed.commits_expected,
    commits_found: landed.commits_found,
    service_cpu_s_per_task: serviceCpuPerTask(cpu, sum.tasks_ok),
    idle_sandbox_s_per_task: idleSandboxPerTask(before, after.counters, sum.tasks_ok),
    busy_ms: sum.busy_ms,
    think_ms: thinkMsOf(spec, ctx),
    warm_lease_ms: sum.warm_lease_ms,
    cold_lease_ms: sum.cold_lease_ms,
    lease_ms_by_source: sum.lease_ms_by_source,
    write_ms: sum.write_ms,
    release_ms: sum.release_ms,
    lock_wait_ms: sum.lock_wait_ms,
    push_attempts_mean: sum.push_attempts_mean === null ? null : Number(sum.push_attempts_mean.toFixed(3)),
    batch_size_mean: sum.batch_size_mean === null ? null : Number(sum.batch_size_mean.toFixed(2)),
    batch_size_max: sum.batch_size_max,
    lease_sources: sum.lease_sources,
    commits_lost: landed.lost,
    commits_duplicated: landed.duplicates,
    files_missing: landed.files_missing,
    errors: sum.errors,
    error_samples: [...new Set(records.filter((r) => r.lastError).map((r) => `${r.failedAt}: ${r.lastError}`))].slice(0, 5),
    log_events: await logEvents(logFile),
    wall_s: Number(wallS.toFixed(2)),
    prewarm_s: prewarmS === null ? null : Number(prewarmS.toFixed(2)),
    floor_push_ms: floorPush,
    profile,
    pool_counters: counters,
    pool_after: { leases_active: active ? active.agents : (after.leases_active ?? null), lander_leases: active?.landers ?? null, members: after.members },
    cpu,
    procs,
    settings: vars,
  };
}
