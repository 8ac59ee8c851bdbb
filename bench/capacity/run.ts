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
import type { DriveResult, Pcts } from './types.ts';

/** What to measure. */
export interface CapacityOptions {
  /** Concurrent agents per coordinator level (each level: a fresh coordinator with as many members). */
  agents: number[];
  /** Shard counts to run at the largest level (1 is the level itself), each shard in its own workerd. */
  shards: number[];
  /** What answers a release's scrub: a stub MemberScrubber (default), or the real one through the e2b SDK. */
  scrubber: 'stub' | 'sdk';
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
  /** False when the stub MemberScrubber answered the scrubs (the provider stub saw none). */
  scrubsCounted?: boolean;
  error?: string;
}

/** Runs one driver and samples CPU, the stub's scrub count (and a profile) over its measuring window. */
async function measured(w: BenchWorker, stub: ProviderStub, p: string, body: { warmupMs: number; durationMs: number } & Record<string, unknown>, profileFile: string | null, log: (s: string) => void, scrubsCounted = true): Promise<Measured> {
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
    return { ...run, cpu: d ? d.by_role_s : null, hot: await hot, scrubs: s1 - s0, scrubTimeline, scrubsCounted: scrubsCounted };
  } finally {
    clearInterval(tick);
    clearTimeout(ta);
    clearTimeout(tb);
  }
}

function level(kind: LevelResult['kind'], agents: number, windowS: number, m: Measured, extra: Partial<LevelResult> = {}): LevelResult {
  // With the stub scrubber no release reaches the provider stub: there is nothing of it to count.
  const stubbed = m.scrubsCounted === false;
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
    scrubs_per_s: kind === 'pool' && !stubbed ? Number((m.scrubs / windowS).toFixed(1)) : null,
    acquire_ms: m.run?.acquire_ms ?? null,
    release_ms: m.run?.release_ms ?? null,
    errors: m.run?.errors ?? (m.error ? { no_answer: 1 } : {}),
    workerd_cpu_s: workerd,
    workerd_busy: workerd === null ? null : Number((workerd / windowS).toFixed(2)),
    workerd_cpu_ms_per_op: workerd === null || !ops ? null : Number(((workerd * 1000) / ops).toFixed(3)),
    cpu_ceiling_per_s: workerd === null || !ops || workerd <= 0 ? null : Math.round(ops / workerd),
    cpu_by_role_s: m.cpu,
    load_avg_1m: Number(os.loadavg()[0].toFixed(2)),
    timeline: { ops: m.run?.per_s ?? null, releases: kind === 'pool' && !stubbed ? m.scrubTimeline : null },
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

const sumOrNull = (xs: (number | null)[]) => (xs.some((x) => x === null) ? null : Number(xs.reduce<number>((a, b) => a + (b ?? 0), 0).toFixed(2)));
const maxPcts = (xs: (Pcts | null)[]): Pcts | null => {
  const ok = xs.filter((x): x is Pcts => !!x);
  if (!ok.length) return null;
  const m = (k: keyof Pcts) => (ok.some((x) => x[k] === null) ? null : Math.max(...ok.map((x) => x[k] as number)));
  return { p50: m('p50'), p90: m('p90'), p99: m('p99'), max: m('max') };
};

/**
 * One level from K shard processes run side by side: operations and CPU add up; latencies are the
 * worst shard's percentiles (each shard's agents only see their own shard).
 */
export function combineShards(levels: LevelResult[], k: number, agents: number, members: number, windowS: number): LevelResult {
  const answered = levels.every((l) => l.answered);
  const ops = answered ? levels.reduce((a, l) => a + (l.ops ?? 0), 0) : null;
  const workerd = sumOrNull(levels.map((l) => l.workerd_cpu_s));
  const roles: Record<string, number> = {};
  // Each shard's sample covers its own wrangler + workerd, and the same shared stack and bench process.
  const own = new Set(['workerd', 'wrangler (node)']);
  for (const l of levels) for (const [r, v] of Object.entries(l.cpu_by_role_s ?? {})) roles[r] = Number((own.has(r) ? (roles[r] ?? 0) + v : Math.max(roles[r] ?? 0, v)).toFixed(2));
  const errors: Record<string, number> = {};
  for (const l of levels) for (const [e, n] of Object.entries(l.errors)) errors[e] = (errors[e] ?? 0) + n;
  const perSecond = (pick: (l: LevelResult) => number[] | null) => {
    const xs = levels.map(pick);
    if (xs.some((x) => !x)) return null;
    return Array.from({ length: Math.max(...xs.map((x) => x!.length)) }, (_, i) => xs.reduce((a, x) => a + (x![i] ?? 0), 0));
  };
  return {
    kind: 'pool',
    agents,
    answered,
    unfinished: levels.reduce((a, l) => a + l.unfinished, 0),
    shards: k,
    members_per_shard: members,
    ops,
    ops_per_s: ops === null ? null : Number((ops / windowS).toFixed(1)),
    scrubs_per_s: sumOrNull(levels.map((l) => l.scrubs_per_s)),
    acquire_ms: maxPcts(levels.map((l) => l.acquire_ms)),
    release_ms: maxPcts(levels.map((l) => l.release_ms)),
    errors,
    workerd_cpu_s: workerd,
    workerd_busy: workerd === null ? null : Number((workerd / windowS).toFixed(2)),
    workerd_cpu_ms_per_op: workerd === null || !ops ? null : Number(((workerd * 1000) / ops).toFixed(3)),
    cpu_ceiling_per_s: workerd === null || !ops || workerd <= 0 ? null : Math.round(ops / workerd),
    cpu_by_role_s: Object.keys(roles).length ? roles : null,
    load_avg_1m: Math.max(...levels.map((l) => l.load_avg_1m)),
    timeline: { ops: perSecond((l) => l.timeline.ops), releases: perSecond((l) => l.timeline.releases) },
  };
}

/** Runs every capacity level and returns the curves. */
export async function runCapacity(o: CapacityOptions, ctx: CapacityContext): Promise<CapacityResult> {
  const t0 = performance.now();
  const stub = await startProviderStub();
  const unregisterStub = onCleanup('capacity provider stub', () => stub.stop(), 5000);
  const config = await bundleWorker(ctx.root, path.join(ctx.tmpDir, 'capacity-bundle'), path.join(ctx.root, 'bench', 'capacity', 'wrangler.toml'));
  const vars = { ...ctx.stack.bindings, E2B_API_URL: stub.url, E2B_SANDBOX_URL: stub.url, E2B_API_KEY: stub.apiKey, LOG_LEVEL: o.logLevel, CAPACITY_SCRUBBER: o.scrubber };
  const tmpfs = o.persist === 'tmpfs' && existsSync('/dev/shm');
  ctx.log(`[capacity] provider stub at ${stub.url}; bench Worker with LOG_LEVEL=${o.logLevel}, Durable Object state on ${tmpfs ? 'tmpfs' : 'disk'}`);
  let started = 0;

  /** Starts a fresh bench Worker (fresh workerd, fresh Durable Object state); close() stops it. */
  const openWorker = async (): Promise<BenchWorker & { close(): Promise<void> }> => {
    const dir = tmpfs ? await mkdtemp('/dev/shm/git-sandbox-capacity-') : path.join(ctx.tmpDir, `capacity-${started}`);
    const unregisterDir = tmpfs ? onCleanup('capacity tmpfs state', () => rm(dir, { recursive: true, force: true }), 10_000) : () => {};
    const proc = await startWorker({ root: ctx.root, config, vars, dir, logFile: path.join(ctx.outDir, `worker-capacity-${started++}.log`) });
    const post = async <T>(p: string, body: Record<string, unknown>, timeoutMs = 120_000): Promise<T> => {
      const r = await call(proc.url, 'POST', p, { json: body, timeoutMs, signal: ctx.signal });
      if (r.code) throw new Error(`capacity ${p} answered ${r.status} ${r.code}: ${r.message ?? JSON.stringify(r.body).slice(0, 300)}`);
      return r.body as T;
    };
    const close = async () => {
      await proc.stop();
      unregisterDir();
      if (tmpfs) await rm(dir, { recursive: true, force: true });
    };
    return { proc, post, roots: { stackPid: ctx.stack.pid, wranglerPid: proc.pid }, close };
  };

  /** Runs `fn` against a fresh bench Worker. */
  const withWorker = async <T>(fn: (w: BenchWorker) => Promise<T>): Promise<T> => {
    const bw = await openWorker();
    try {
      return await fn(bw);
    } finally {
      await bw.close();
    }
  };

  const w = { warmupMs: o.warmupMs, durationMs: o.durationMs };
  const windowS = o.durationMs / 1000;
  const profileFile = (label: string) => (o.profile ? path.join(ctx.outDir, `capacity-${label}.cpuprofile`) : null);
  const runPool = (agents: number, k: number, total = agents): Promise<LevelResult> =>
    k > 1 ? runShards(agents, k, total) : withWorker(async (bw) => {
      const names = [`cap-${ctx.runId}-a${agents}-m${total}-k1`];
      await bw.post('/pool/seed', { names, members: total }, 120_000);
      const m = await measured(bw, stub, '/pool/run', { names, agents, ...w }, profileFile(`pool-a${agents}-m${total}-k1`), ctx.log, o.scrubber === 'sdk');
      // Lease transitions the coordinator had not yet copied to Postgres when the run ended.
      const [st] = await bw.post<{ projection_backlog?: number; counters: Record<string, number> }[]>('/pool/stats', { names });
      const r = level('pool', agents, windowS, m, { shards: 1, members_per_shard: total, projection_backlog: st?.projection_backlog ?? null });
      ctx.log(`[capacity] coordinator, ${agents} agents on 1 shard of ${total} members: ${describe(r, 'grants')}; projection backlog ${r.projection_backlog ?? '?'} transitions`);
      ctx.log(`[capacity]   per second: grants ${JSON.stringify(r.timeline.ops ?? [])}, releases ${JSON.stringify(r.timeline.releases ?? [])}`);
      logHot(ctx.log, r);
      return r;
    });

  /**
   * K shards as production runs them: each coordinator on its own thread. workerd runs one thread
   * per process, so each shard gets its own `wrangler dev` with its own driver (the agents of that
   * shard); the shards run at the same time and their grants add up. On this machine the curve
   * flattens at its core count.
   */
  const runShards = async (agents: number, k: number, total: number): Promise<LevelResult> => {
    const workers = await Promise.all(Array.from({ length: k }, () => openWorker()));
    try {
      const members = Math.ceil(total / k);
      const per = Math.ceil(agents / k);
      await Promise.all(workers.map((bw, j) => bw.post('/pool/seed', { names: [`cap-${ctx.runId}-a${agents}-m${total}-k${k}-s${j}`], members }, 120_000)));
      const ms = await Promise.all(workers.map((bw, j) => measured(bw, stub, '/pool/run', { names: [`cap-${ctx.runId}-a${agents}-m${total}-k${k}-s${j}`], agents: per, ...w }, null, ctx.log, o.scrubber === 'sdk')));
      const levels = ms.map((m) => level('pool', per, windowS, m, { shards: 1, members_per_shard: members }));
      const stats = await Promise.all(workers.map((bw, j) => bw.post<{ projection_backlog?: number }[]>('/pool/stats', { names: [`cap-${ctx.runId}-a${agents}-m${total}-k${k}-s${j}`] })));
      const r = { ...combineShards(levels, k, agents, members, windowS), projection_backlog: stats.reduce((n, [st]) => n + (st?.projection_backlog ?? 0), 0) };
      ctx.log(`[capacity] coordinator, ${agents} agents on ${k} shards (${k} workerd processes) of ${members} members: ${describe(r, 'grants')}; projection backlog ${r.projection_backlog} transitions`);
      return r;
    } finally {
      await Promise.all(workers.map((bw) => bw.close()));
    }
  };

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
