// `--capacity`: one PoolCoordinator's grant/release throughput and one RepoLock's cycle rate in
// workerd, sandbox side taken out. A bench Worker (bench/capacity/worker) seeds idle members into
// the coordinator's SQLite and drives it from inside workerd; release reaches the provider only
// through the scrub, which a stub of the E2B API answers at once. Postgres (the lease history
// projection) and the MetricsHub are the real ones. Per level: latency, throughput, workerd CPU.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { call } from '../api.ts';
import { onCleanup } from '../cleanup.ts';
import { cpuDiff, sampleCpu, type CpuSample } from '../cpu.ts';
import type { StackProcess } from '../stack.ts';
import { bundleWorker, startWorker } from '../worker-process.ts';
import type { CapacityResult, LevelResult } from './report.ts';
import { startProfile, type HotFunction, type Profiling } from './inspector.ts';
import { startProviderStub } from './provider-stub.ts';
import type { DriveResult } from './types.ts';

/** What to measure. */
export interface CapacityOptions {
  /** Concurrent agents per coordinator level (each level: a fresh coordinator with as many members). */
  agents: number[];
  /** Shard counts to simulate at the largest level (1 is the level itself). */
  shards: number[];
  /** Concurrent lock users per RepoLock level (1 = uncontended). */
  lockAgents: number[];
  warmupMs: number;
  durationMs: number;
  /** LOG_LEVEL of the bench Worker. */
  logLevel: string;
  /** Durable Object state on tmpfs (/dev/shm) or on the scratch disk (local fsync latency on every commit). */
  persist: 'tmpfs' | 'disk';
  /** Record a CPU profile of the isolate over each measuring window (outDir/capacity-*.cpuprofile). */
  profile: boolean;
}

/** What the capacity run needs from the bench run. */
export interface CapacityContext {
  root: string;
  tmpDir: string;
  outDir: string;
  stack: StackProcess;
  runId: string;
  signal: AbortSignal;
  log: (s: string) => void;
}

type Post = <T>(p: string, body: Record<string, unknown>, timeoutMs?: number) => Promise<T>;

/** Where a run's CPU profile goes, when profiling: the inspector port and the output file. */
type ProfileTarget = { port: number; file: string; log: (s: string) => void } | null;

/** Runs one driver and samples CPU (and optionally a profile) over its measuring window only. */
async function measured(post: Post, p: string, body: { warmupMs: number; durationMs: number } & Record<string, unknown>, roots: { stackPid?: number; wranglerPid?: number }, prof: ProfileTarget): Promise<{ run: DriveResult; cpu: Record<string, number> | null; hot: HotFunction[] | null }> {
  let a: CpuSample | null = null;
  let b: CpuSample | null = null;
  let profiling: Promise<Profiling | null> = Promise.resolve(null);
  let hot: Promise<HotFunction[] | null> = Promise.resolve(null);
  const failed = (e: unknown) => (prof?.log(`[capacity] profile: ${e instanceof Error ? e.message : String(e)}`), null);
  const ta = setTimeout(() => {
    a = sampleCpu(roots);
    if (prof) profiling = startProfile(prof.port).catch(failed);
  }, body.warmupMs);
  const tb = setTimeout(() => {
    b = sampleCpu(roots);
    hot = profiling.then((x) => x?.stop(prof?.file) ?? null).catch(failed);
  }, body.warmupMs + body.durationMs);
  try {
    const run = await post<DriveResult>(p, body, body.warmupMs + body.durationMs + 180_000);
    const d = cpuDiff(a, b, 1);
    return { run, cpu: d ? d.by_role_s : null, hot: await hot };
  } finally {
    clearTimeout(ta);
    clearTimeout(tb);
  }
}

function level(kind: LevelResult['kind'], { run, cpu, hot }: { run: DriveResult; cpu: Record<string, number> | null; hot: HotFunction[] | null }, extra: Partial<LevelResult> = {}): LevelResult {
  const workerd = cpu?.workerd ?? null;
  return {
    kind,
    agents: run.agents,
    shards: 1,
    ops: run.ops,
    ops_per_s: run.ops_per_s,
    acquire_ms: run.acquire_ms,
    release_ms: run.release_ms,
    errors: run.errors,
    workerd_cpu_s: workerd,
    workerd_busy: workerd === null ? null : Number((workerd / run.window_s).toFixed(2)),
    workerd_cpu_ms_per_op: workerd === null || !run.ops ? null : Number(((workerd * 1000) / run.ops).toFixed(3)),
    cpu_by_role_s: cpu,
    ...(hot ? { hot } : {}),
    ...extra,
  };
}

function logHot(log: (s: string) => void, r: LevelResult): void {
  if (r.hot?.length) log(`[capacity]   hottest: ${r.hot.slice(0, 8).map((h) => `${h.fn} ${(h.share * 100).toFixed(0)}%`).join(', ')}`);
}

/** Runs every capacity level against a fresh bench Worker and returns the curves. */
export async function runCapacity(o: CapacityOptions, ctx: CapacityContext): Promise<CapacityResult> {
  const stub = await startProviderStub();
  const unregisterStub = onCleanup('capacity provider stub', () => stub.stop(), 5000);
  const config = await bundleWorker(ctx.root, path.join(ctx.tmpDir, 'capacity-bundle'), path.join(ctx.root, 'bench', 'capacity', 'wrangler.toml'));
  const vars = { ...ctx.stack.bindings, E2B_API_URL: stub.url, E2B_SANDBOX_URL: stub.url, E2B_API_KEY: stub.apiKey, LOG_LEVEL: o.logLevel };
  ctx.log(`[capacity] starting the bench Worker (provider stub at ${stub.url}, LOG_LEVEL=${o.logLevel})`);
  const dir = o.persist === 'tmpfs' && existsSync('/dev/shm') ? await mkdtemp('/dev/shm/git-sandbox-capacity-') : path.join(ctx.tmpDir, 'capacity');
  const unregisterDir = dir.startsWith('/dev/shm/') ? onCleanup('capacity tmpfs state', () => rm(dir, { recursive: true, force: true }), 10_000) : () => {};
  const worker = await startWorker({ root: ctx.root, config, vars, dir, logFile: path.join(ctx.outDir, 'worker-capacity.log') });
  const roots = { stackPid: ctx.stack.pid, wranglerPid: worker.pid };
  const post: Post = async (p, body, timeoutMs = 120_000) => {
    const r = await call(worker.url, 'POST', p, { json: body, timeoutMs, signal: ctx.signal });
    if (r.code) throw new Error(`capacity ${p} answered ${r.status} ${r.code}: ${r.message ?? JSON.stringify(r.body).slice(0, 300)}`);
    return r.body;
  };
  const prof = (label: string): ProfileTarget => (o.profile ? { port: worker.inspectorPort, file: path.join(ctx.outDir, `capacity-${label}.cpuprofile`), log: ctx.log } : null);
  const t0 = performance.now();
  const w = { warmupMs: o.warmupMs, durationMs: o.durationMs };
  const curve: LevelResult[] = [];
  const shards: LevelResult[] = [];
  const locks: LevelResult[] = [];
  let rpc: LevelResult | null = null;
  try {
    const runPool = async (agents: number, k: number): Promise<LevelResult> => {
      const names = Array.from({ length: k }, (_, j) => `cap-${ctx.runId}-a${agents}-k${k}-s${j}`);
      await post('/pool/seed', { names, members: Math.ceil(agents / k) }, 120_000);
      const m = await measured(post, '/pool/run', { names, agents, ...w }, roots, prof(`pool-a${agents}-k${k}`));
      await post('/pool/drain', { names }, 120_000);
      const r = level('pool', m, { shards: k, members_per_shard: Math.ceil(agents / k) });
      ctx.log(`[capacity] pool ${agents} agents × ${k} shard(s): ${r.ops_per_s} grants/s, grant p50/p99 ${r.acquire_ms.p50}/${r.acquire_ms.p99} ms, release p99 ${r.release_ms?.p99} ms, workerd ${r.workerd_busy ?? '?'} busy (${r.workerd_cpu_ms_per_op ?? '?'} ms CPU/grant)${Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : ''}`);
      logHot(ctx.log, r);
      return r;
    };
    for (const agents of o.agents) {
      if (ctx.signal.aborted) break;
      curve.push(await runPool(agents, 1));
    }
    const top = Math.max(...o.agents);
    for (const k of o.shards) {
      if (ctx.signal.aborted) break;
      const same = k === 1 ? curve.find((c) => c.agents === top) : undefined;
      shards.push(same ?? (await runPool(top, k)));
    }
    if (!ctx.signal.aborted) {
      const agents = Math.min(1000, top);
      const name = `cap-${ctx.runId}-rpc`;
      await post('/pool/seed', { names: [name], members: 1 });
      rpc = level('rpc', await measured(post, '/rpc/run', { names: [name], agents, ...w }, roots, prof('rpc')));
      ctx.log(`[capacity] no-op RPC, ${agents} agents: ${rpc.ops_per_s} calls/s, p99 ${rpc.acquire_ms.p99} ms`);
    }
    for (const agents of o.lockAgents) {
      if (ctx.signal.aborted) break;
      const r = level('lock', await measured(post, '/lock/run', { names: [`cap-${ctx.runId}-lock-${agents}`], agents, ...w }, roots, prof(`lock-a${agents}`)));
      locks.push(r);
      ctx.log(`[capacity] lock, ${agents} agent(s): ${r.ops_per_s} cycles/s, acquire p50/p99 ${r.acquire_ms.p50}/${r.acquire_ms.p99} ms, release p99 ${r.release_ms?.p99} ms, workerd ${r.workerd_busy ?? '?'} busy (${r.workerd_cpu_ms_per_op ?? '?'} ms CPU/cycle)`);
      logHot(ctx.log, r);
    }
  } finally {
    await worker.stop();
    unregisterStub();
    await stub.stop();
    unregisterDir();
    if (dir.startsWith('/dev/shm/')) await rm(dir, { recursive: true, force: true });
  }
  const best = (xs: LevelResult[]) => (xs.length ? Math.max(...xs.map((x) => x.ops_per_s)) : null);
  return {
    coordinator_grants_per_s: best(curve),
    lock_cycles_per_s: best(locks),
    curve: curve.map((c) => ({ agents: c.agents, grants_per_s: c.ops_per_s, p50_ms: c.acquire_ms.p50, p99_ms: c.acquire_ms.p99 })),
    shards: shards.map((c) => ({ shards: c.shards, agents: c.agents, grants_per_s: c.ops_per_s, p50_ms: c.acquire_ms.p50, p99_ms: c.acquire_ms.p99 })),
    lock_curve: locks.map((c) => ({ agents: c.agents, cycles_per_s: c.ops_per_s, p50_ms: c.acquire_ms.p50, p99_ms: c.acquire_ms.p99 })),
    levels: [...curve, ...shards.filter((s) => s.shards > 1), ...(rpc ? [rpc] : []), ...locks],
    stub_requests: stub.counts(),
    options: { ...o, persist_dir: dir.startsWith('/dev/shm/') ? 'tmpfs' : 'disk' },
    duration_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
  };
}
