// Closed-loop drivers that run inside workerd: N simulated agents, each calling a Durable Object
// back to back (pool: acquire → release; lock: acquire → release; rpc: a no-op) until the deadline.
// Only calls that finish inside the measuring window (after the warm-up) are counted.
import type { RepoLock } from '../../../src/durable/repo-lock.ts';
import type { AcquireRequest } from '../../../src/pool/types.ts';
import type { DriveOptions, DriveResult, Pcts } from '../types.ts';
import type { BenchPoolCoordinator } from './bench-pool.ts';

function pcts(xs: number[]): Pcts {
  if (!xs.length) return { p50: null, p90: null, p99: null, max: null };
  const s = xs.sort((a, b) => a - b);
  const at = (p: number) => Number(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))].toFixed(1));
  return { p50: at(50), p90: at(90), p99: at(99), max: Number(s[s.length - 1].toFixed(1)) };
}

/** One cycle of an agent: resolves with the two call latencies, or an error reason. */
type Cycle = (agent: number, n: number) => Promise<{ first: number; second: number | null; end: number } | { error: string; end: number }>;

async function drive(o: DriveOptions, cycle: Cycle, secondCall: boolean): Promise<DriveResult> {
  // workerd advances the clock only across I/O; every sample below spans at least one RPC.
  const t0 = performance.now();
  const from = t0 + o.warmupMs;
  const until = from + o.durationMs;
  const first: number[] = [];
  const second: number[] = [];
  const errors: Record<string, number> = {};
  let ops = 0;
  // Completed operations per second since the start, warm-up included (the dynamics of a run).
  const timeline: number[] = [];
  const agent = async (i: number) => {
    for (let n = 0; performance.now() < until; n++) {
      const r = await cycle(i, n).catch((e: unknown) => ({ error: `threw: ${e instanceof Error ? e.message : String(e)}`.slice(0, 120), end: performance.now() }));
      const counted = r.end >= from && r.end <= until;
      if (!('error' in r) && r.end <= until) {
        const sec = Math.floor((r.end - t0) / 1000);
        timeline[sec] = (timeline[sec] ?? 0) + 1;
      }
      if ('error' in r) {
        if (counted) errors[r.error] = (errors[r.error] ?? 0) + 1;
        // A refused agent backs off briefly instead of spinning on the refusal.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (!counted) continue;
      ops++;
      first.push(r.first);
      if (r.second !== null) second.push(r.second);
    }
  };
  let finished = 0;
  const loops = Array.from({ length: o.agents }, (_, i) => agent(i).finally(() => finished++));
  // Cycles in flight at the deadline get a bounded time to finish (an overloaded object may hold
  // thousands of queued calls); the bench runs every coordinator level in a fresh workerd.
  const all = Promise.all(loops);
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, until - performance.now()))]);
  await Promise.race([all, new Promise((resolve) => setTimeout(resolve, o.settleMs))]);
  const windowS = o.durationMs / 1000;
  return {
    agents: o.agents,
    unfinished: o.agents - finished,
    window_s: windowS,
    ops,
    ops_per_s: Number((ops / windowS).toFixed(1)),
    acquire_ms: pcts(first),
    release_ms: secondCall ? pcts(second) : null,
    errors,
    per_s: Array.from({ length: Math.ceil((until - t0) / 1000) }, (_, i) => timeline[i] ?? 0),
  };
}

/** The lease request of agent `i`'s `n`-th task (one repo; members are blank, so every grant is warm). */
function leaseRequest(i: number, n: number): AcquireRequest {
  return {
    agentId: `cap-a${i}`,
    taskId: `t${n}`,
    repoUrl: 'https://capacity.invalid/bench/repo.git',
    repoKey: 'capacity.invalid/bench/repo',
    branch: 'main',
    agentBranch: `agent/cap-a${i}/t${n}`,
    mode: 'pooled',
  };
}

/** Agents cycle acquire → release on the coordinators; agent i uses shard i mod K. */
export function drivePool(shards: DurableObjectStub<BenchPoolCoordinator>[], o: DriveOptions): Promise<DriveResult> {
  return drive(o, async (i, n) => {
    const stub = shards[i % shards.length];
    const req = leaseRequest(i, n);
    const a = performance.now();
    const r = await stub.acquire(req);
    const b = performance.now();
    if (!r.ok) return { error: `acquire:${r.reason}`, end: b };
    const rel = await stub.release(r.lease.id, req.agentId);
    const c = performance.now();
    if (!rel.ok) return { error: `release:${rel.reason}`, end: c };
    return { first: b - a, second: c - b, end: b };
  }, true);
}

/** Agents cycle acquire → release on one RepoLock (the holder releases at once). */
export function driveLock(lock: DurableObjectStub<RepoLock>, o: DriveOptions & { ttlMs: number }): Promise<DriveResult> {
  return drive(o, async (i, n) => {
    const a = performance.now();
    const r = await lock.acquire(`cap-h${i}:${n}`, { ttlMs: o.ttlMs, waitMs: 120_000 });
    const b = performance.now();
    if (!r.ok) return { error: `acquire:${r.reason}`, end: b };
    const rel = await lock.release(r.token);
    const c = performance.now();
    if (!rel.ok) return { error: `release:${rel.reason ?? 'refused'}`, end: c };
    return { first: b - a, second: c - b, end: b };
  }, true);
}

/** Agents call a no-op method: the driver's and the RPC path's own ceiling on this machine. */
export function driveNoop(stub: DurableObjectStub<BenchPoolCoordinator>, o: DriveOptions): Promise<DriveResult> {
  return drive(o, async () => {
    const a = performance.now();
    await stub.noop();
    const b = performance.now();
    return { first: b - a, second: null, end: b };
  }, false);
}
