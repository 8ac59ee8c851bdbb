// `--capacity`: one PoolCoordinator's grant/release throughput and one RepoLock's cycle rate in
// workerd, sandbox side taken out. A bench Worker (bench/capacity/worker) seeds idle members into
// the coordinator's SQLite and drives it from inside workerd; release reaches the provider only
// through the scrub, which a stub of the E2B API answers at once. Postgres (the lease history
// projection) and the MetricsHub are the real ones. Every coordinator level runs in a fresh
// `wrangler dev`, so an overloaded level cannot slow the next one down.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { call } from '../api.ts';
import { onCleanup } from '../cleanup.ts';
import { cpuDiff, sampleCpu, type CpuSample } from '../cpu.ts';
import type { StackProcess } from '../stack.ts';
import { bundleWorker, startWorker, type WorkerProcess } from '../worker-process.ts';
import { startProfile, type HotFunction, type Profiling } from './inspector.ts';
import { startProviderStub, type ProviderStub } from './provider-stub.ts';
import type { CapacityResult, LevelResult } from './report.ts';
import type { DriveResult } from './types.ts';

/** What to measure. */
export interface CapacityOptions {
  /** Concurrent agents per coordinator level (each level: a fresh coordinator with as many members). */
  agents: number[];
  /** Shard counts to simulate at the largest level (1 is the level itself). */
  shards: number[];
  /** Member counts to run at the smallest agent level (the cost of a grant as the pool grows). */
  members: number[];
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

/** How long cycles in flight at the end of the window may take before the driver reports. */
const SETTLE_MS = 20_000;
/** Extra wait for the driver's answer; a level with no answer by then counts as overloaded. */
const ANSWER_GRACE_MS = 30_000;

/** One bench Worker: its process, a JSON POST helper and the roots of its CPU accounting. */
interface BenchWorker {
  proc: WorkerProcess;
  post<T>(p: string, body: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  roots: { stackPid?: number; wranglerPid?: number };
}

/** A measured driver run; `run` is null when the driver did not answer in time (overloaded). */
interface Measured {
  run: DriveResult | null;
  cpu: Record<string, number> | null;
  hot: HotFunction[] | null;
  /** Scrubs the provider stub answered in the window (one per release). */
  scrubs: number;
  /** Scrubs the stub answered in each second since the start. */
  scrubTimeline: number[];
  error?: string;
}

/** Runs one driver and samples CPU, the stub's scrub count (and a profile) over its measuring window. */
async function measured(w: BenchWorker, stub: ProviderStub, p: string, body: { warmupMs: number; durationMs: number } & Record<string, unknown>, profileFile: string | null, log: (s: string) => void): Promise<Measured> {
  let a: CpuSample | null = null;
  let b: CpuSample | null = null;
  let s0 = 0;
  let s1 = 0;
  let hot: Promise<HotFunction[] | null> = Promise.resolve(null);
  const failed = (e: unknown) => (log(`[capacity] profile: ${e instanceof Error ? e.message : String(e)}`), null);
  // The inspector answers only when the isolate is free, so sampling starts before the load does
  // (the profile covers the warm-up too).
  const profiling: Profiling | null = profileFile ? await startProfile(w.proc.inspectorPort).catch(failed) : null;
  const scrubTimeline: number[] = [];
  let last = stub.counts().start ?? 0;
  const tick = setInterval(() => {
    const now = stub.counts().start ?? 0;
    if (scrubTimeline.length < (body.warmupMs + body.durationMs) / 1000) scrubTimeline.push(now - last);
    last = now;
  }, 1000);
  const ta = setTimeout(() => {
    a = sampleCpu(w.roots);
    s0 = stub.counts().start ?? 0;
  }, body.warmupMs);
  const tb = setTimeout(() => {
    b = sampleCpu(w.roots);
    s1 = stub.counts().start ?? 0;
    hot = profiling ? profiling.stop(profileFile ?? undefined).catch(failed) : Promise.resolve(null);
  }, body.warmupMs + body.durationMs);
  try {
    const run = await w.post<DriveResult>(p, { ...body, settleMs: SETTLE_MS }, body.warmupMs + body.durationMs + SETTLE_MS + ANSWER_GRACE_MS).then(
      (r) => ({ run: r }),
      (e: unknown) => ({ run: null, error: e instanceof Error ? e.message : String(e) }),
    );
    const d = cpuDiff(a, b, 1);
    return { ...run, cpu: d ? d.by_role_s : null, hot: await hot, scrubs: s1 - s0, scrubTimeline };
  } finally {
    clearInterval(tick);
    clearTimeout(ta);
    clearTimeout(tb);
  }
}

function level(kind: LevelResult['kind'], agents: number, windowS: number, m: Measured, extra: Partial<LevelResult> = {}): LevelResult {
  const workerd = m.cpu?.workerd ?? null;
  const ops = m.run?.ops ?? null;
  return {
    kind,
    agents,
    answered: m.run !== null,
    unfinished: m.run?.unfinished ?? agents,
    shards: 1,
    ops,
    ops_per_s: m.run?.ops_per_s ?? null,
    scrubs_per_s: kind === 'pool' ? Number((m.scrubs / windowS).toFixed(1)) : null,
    acquire_ms: m.run?.acquire_ms ?? null,
    release_ms: m.run?.release_ms ?? null,
    errors: m.run?.errors ?? (m.error ? { no_answer: 1 } : {}),
    workerd_cpu_s: workerd,
    workerd_busy: workerd === null ? null : Number((workerd / windowS).toFixed(2)),
    workerd_cpu_ms_per_op: workerd === null || !ops ? null : Number(((workerd * 1000) / ops).toFixed(3)),
    cpu_ceiling_per_s: workerd === null || !ops || workerd <= 0 ? null : Math.round(ops / workerd),
    cpu_by_role_s: m.cpu,
    load_avg_1m: Number(os.loadavg()[0].toFixed(2)),
    timeline: { ops: m.run?.per_s ?? null, releases: kind === 'pool' ? m.scrubTimeline : null },
    ...(m.hot ? { hot: m.hot } : {}),
    ...extra,
  };
}

const describe = (r: LevelResult, unit: string) =>
  r.answered
    ? `${r.ops_per_s} ${unit}/s, p50/p99 ${r.acquire_ms?.p50}/${r.acquire_ms?.p99} ms, release p99 ${r.release_ms?.p99 ?? '-'} ms, workerd ${r.workerd_busy ?? '?'} busy (${r.workerd_cpu_ms_per_op ?? '?'} ms CPU/op)${r.unfinished ? `, ${r.unfinished} agents still waiting ${SETTLE_MS / 1000} s after the window` : ''}${Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : ''}`
    : `no answer within ${(SETTLE_MS + ANSWER_GRACE_MS) / 1000} s after the window (overloaded); ${r.scrubs_per_s ?? 0} releases/s seen by the stub, workerd ${r.workerd_busy ?? '?'} busy`;

function logHot(log: (s: string) => void, r: LevelResult): void {
  if (r.hot?.length) log(`[capacity]   hottest: ${r.hot.slice(0, 8).map((h) => `${h.fn} ${(h.share * 100).toFixed(0)}%`).join(', ')}`);
}

/** Runs every capacity level and returns the curves. */
export async function runCapacity(o: CapacityOptions, ctx: CapacityContext): Promise<CapacityResult> {
  const t0 = performance.now();
  const stub = await startProviderStub();
  const unregisterStub = onCleanup('capacity provider stub', () => stub.stop(), 5000);
  const config = await bundleWorker(ctx.root, path.join(ctx.tmpDir, 'capacity-bundle'), path.join(ctx.root, 'bench', 'capacity', 'wrangler.toml'));
  const vars = { ...ctx.stack.bindings, E2B_API_URL: stub.url, E2B_SANDBOX_URL: stub.url, E2B_API_KEY: stub.apiKey, LOG_LEVEL: o.logLevel };
  const tmpfs = o.persist === 'tmpfs' && existsSync('/dev/shm');
  ctx.log(`[capacity] provider stub at ${stub.url}; bench Worker with LOG_LEVEL=${o.logLevel}, Durable Object state on ${tmpfs ? 'tmpfs' : 'disk'}`);
  let started = 0;

  /** Runs `fn` against a fresh bench Worker (fresh workerd, fresh Durable Object state). */
  const withWorker = async <T>(fn: (w: BenchWorker) => Promise<T>): Promise<T> => {
    const dir = tmpfs ? await mkdtemp('/dev/shm/git-sandbox-capacity-') : path.join(ctx.tmpDir, `capacity-${started}`);
    const unregisterDir = tmpfs ? onCleanup('capacity tmpfs state', () => rm(dir, { recursive: true, force: true }), 10_000) : () => {};
    const proc = await startWorker({ root: ctx.root, config, vars, dir, logFile: path.join(ctx.outDir, `worker-capacity-${started++}.log`) });
    const post = async <T>(p: string, body: Record<string, unknown>, timeoutMs = 120_000): Promise<T> => {
      const r = await call(proc.url, 'POST', p, { json: body, timeoutMs, signal: ctx.signal });
      if (r.code) throw new Error(`capacity ${p} answered ${r.status} ${r.code}: ${r.message ?? JSON.stringify(r.body).slice(0, 300)}`);
      return r.body as T;
    };
    try {
      return await fn({ proc, post, roots: { stackPid: ctx.stack.pid, wranglerPid: proc.pid } });
    } finally {
      await proc.stop();
      unregisterDir();
      if (tmpfs) await rm(dir, { recursive: true, force: true });
    }
  };

  const w = { warmupMs: o.warmupMs, durationMs: o.durationMs };
  const windowS = o.durationMs / 1000;
  const profileFile = (label: string) => (o.profile ? path.join(ctx.outDir, `capacity-${label}.cpuprofile`) : null);
  const runPool = (agents: number, k: number, total = agents): Promise<LevelResult> =>
    withWorker(async (bw) => {
      const names = Array.from({ length: k }, (_, j) => `cap-${ctx.runId}-a${agents}-m${total}-k${k}-s${j}`);
      const members = Math.ceil(total / k);
      await bw.post('/pool/seed', { names, members }, 120_000);
      const m = await measured(bw, stub, '/pool/run', { names, agents, ...w }, profileFile(`pool-a${agents}-m${total}-k${k}`), ctx.log);
      const r = level('pool', agents, windowS, m, { shards: k, members_per_shard: members });
      ctx.log(`[capacity] coordinator, ${agents} agents on ${k} shard(s) of ${members} members: ${describe(r, 'grants')}`);
      ctx.log(`[capacity]   per second: grants ${JSON.stringify(r.timeline.ops ?? [])}, releases ${JSON.stringify(r.timeline.releases ?? [])}`);
      logHot(ctx.log, r);
      return r;
    });

  const curve: LevelResult[] = [];
  const byMembers: LevelResult[] = [];
  const shards: LevelResult[] = [];
  const locks: LevelResult[] = [];
  let rpc: LevelResult | null = null;
  let sqlUs: number | null = null;
  try {
    for (const agents of o.agents) {
      if (ctx.signal.aborted) break;
      curve.push(await runPool(agents, 1));
    }
    const low = Math.min(...o.agents);
    for (const m of o.members.filter((x) => x >= low)) {
      if (ctx.signal.aborted) break;
      const same = curve.find((c) => c.agents === low && c.members_per_shard === m);
      byMembers.push(same ?? (await runPool(low, 1, m)));
    }
    const top = Math.max(...o.agents);
    for (const k of o.shards) {
      if (ctx.signal.aborted) break;
      const same = k === 1 ? curve.find((c) => c.agents === top) : undefined;
      shards.push(same ?? (await runPool(top, k)));
    }
    if (!ctx.signal.aborted) {
      // The RPC floor and the locks share one Worker: none of them leaves work queued behind it.
      rpc = await withWorker(async (bw) => {
        const agents = Math.min(1000, top);
        const name = `cap-${ctx.runId}-rpc`;
        await bw.post('/pool/seed', { names: [name], members: 1 });
        const r = level('rpc', agents, windowS, await measured(bw, stub, '/rpc/run', { names: [name], agents, ...w }, profileFile('rpc'), ctx.log));
        ctx.log(`[capacity] no-op RPC, ${agents} agents: ${describe(r, 'calls')}`);
        const statements = 50_000;
        const c0 = sampleCpu(bw.roots);
        await bw.post('/pool/sql', { names: [name], statements }, 120_000);
        const sqlCpu = cpuDiff(c0, sampleCpu(bw.roots), 1)?.by_role_s.workerd ?? null;
        sqlUs = sqlCpu === null ? null : Number(((sqlCpu * 1e6) / statements).toFixed(1));
        ctx.log(`[capacity] SQLite floor: ${sqlUs ?? '?'} µs of workerd CPU per one-row statement (${statements} in one call)`);
        for (const n of o.lockAgents) {
          if (ctx.signal.aborted) break;
          const l = level('lock', n, windowS, await measured(bw, stub, '/lock/run', { names: [`cap-${ctx.runId}-lock-${n}`], agents: n, ...w }, profileFile(`lock-a${n}`), ctx.log));
          locks.push(l);
          ctx.log(`[capacity] repo lock, ${n} agent(s): ${describe(l, 'cycles')}`);
          logHot(ctx.log, l);
        }
        return r;
      });
    }
  } finally {
    unregisterStub();
    await stub.stop();
  }
  const best = (xs: LevelResult[]) => (xs.some((x) => x.ops_per_s !== null) ? Math.max(...xs.map((x) => x.ops_per_s ?? 0)) : null);
  const point = (c: LevelResult) => ({ agents: c.agents, grants_per_s: c.ops_per_s ?? c.scrubs_per_s ?? 0, p50_ms: c.acquire_ms?.p50 ?? null, p99_ms: c.acquire_ms?.p99 ?? null, answered: c.answered });
  return {
    coordinator_grants_per_s: best(curve),
    lock_cycles_per_s: best(locks),
    curve: curve.map(point),
    members_curve: byMembers.map((c) => ({ members: c.members_per_shard ?? c.agents, ...point(c), workerd_cpu_ms_per_grant: c.workerd_cpu_ms_per_op })),
    shards: shards.map((c) => ({ shards: c.shards, ...point(c) })),
    lock_curve: locks.map((c) => ({ agents: c.agents, cycles_per_s: c.ops_per_s ?? 0, p50_ms: c.acquire_ms?.p50 ?? null, p99_ms: c.acquire_ms?.p99 ?? null })),
    levels: [...curve, ...byMembers.filter((b) => !curve.includes(b)), ...shards.filter((s) => s.shards > 1), ...(rpc ? [rpc] : []), ...locks],
    sql_statement_us: sqlUs,
    stub_requests: stub.counts(),
    options: { ...o, persist: tmpfs ? 'tmpfs' : 'disk', settle_ms: SETTLE_MS },
    duration_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
  };
}
