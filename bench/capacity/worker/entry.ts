// Bench-only Worker entry for `npm run bench -- --capacity`: the real Durable Object classes (the
// coordinator with a seeding seam) and a small JSON API that seeds coordinators and runs the
// in-workerd drivers. Not part of the service; bundled and run with bench/capacity/wrangler.toml.
import type { RepoLock } from '../../../src/durable/repo-lock.ts';
import { BenchPoolCoordinator } from './bench-pool.ts';
import type { DriveOptions } from '../types.ts';
import { driveLock, driveNoop, drivePool } from './drive.ts';

export { BenchPoolCoordinator as PoolCoordinator } from './bench-pool.ts';
export { RepoLock } from '../../../src/durable/repo-lock.ts';
export { MetricsHub } from '../../../src/durable/metrics-hub.ts';
export { BenchMemberScrubber as MemberScrubber } from './bench-scrubber.ts';

// POOL_COORDINATOR is bound to the subclass here; Env (generated from the service's wrangler.toml)
// names the base class, so the namespace is narrowed once, in this one place.
const pools = (env: Env) => env.POOL_COORDINATOR as unknown as DurableObjectNamespace<BenchPoolCoordinator>;
const pool = (env: Env, name: string) => pools(env).get(pools(env).idFromName(name));
const lock = (env: Env, name: string): DurableObjectStub<RepoLock> => env.REPO_LOCK.get(env.REPO_LOCK.idFromName(name));

/** A positive integer field of a request body. */
function int(body: Record<string, unknown>, key: string, def?: number): number {
  const v = body[key] ?? def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${key}: expected a non-negative integer`);
  return v;
}

function names(body: Record<string, unknown>): string[] {
  const v = body.names;
  if (!Array.isArray(v) || !v.length || !v.every((x) => typeof x === 'string')) throw new Error('names: expected a non-empty list of strings');
  return v as string[];
}

function drive(body: Record<string, unknown>): DriveOptions {
  return {
    agents: Math.max(1, int(body, 'agents')),
    warmupMs: int(body, 'warmupMs', 1000),
    durationMs: Math.max(100, int(body, 'durationMs', 5000)),
    settleMs: int(body, 'settleMs', 30_000),
  };
}

async function handle(path: string, body: Record<string, unknown>, env: Env): Promise<unknown> {
  switch (path) {
    case '/pool/seed':
      return Promise.all(names(body).map((n) => pool(env, n).seed(int(body, 'members'), `${n}-m`)));
    case '/pool/run':
      return drivePool(names(body).map((n) => pool(env, n)), drive(body));
    case '/pool/stats':
      return Promise.all(names(body).map((n) => pool(env, n).stats()));
    case '/pool/sql':
      return pool(env, names(body)[0]).sqlLoop(int(body, 'statements'));
    case '/rpc/run':
      return driveNoop(pool(env, names(body)[0]), drive(body));
    case '/lock/run':
      return driveLock(lock(env, names(body)[0]), { ...drive(body), ttlMs: int(body, 'ttlMs', 30_000) });
    default:
      return undefined;
  }
}

export default {
  async fetch(req, env) {
    const path = new URL(req.url).pathname;
    if (path === '/healthz') return new Response('ok');
    if (req.method !== 'POST') return new Response('not found', { status: 404 });
    try {
      const body = (await req.json()) as Record<string, unknown>;
      const out = await handle(path, body, env);
      return out === undefined ? new Response('not found', { status: 404 }) : Response.json(out);
    } catch (e) {
      return Response.json({ error: e instanceof Error ? e.message : String(e) }, { status: 400 });
    }
  },
} satisfies ExportedHandler<Env>;
