// Simulated agents: each runs K rounds of lease → write a file → push to base → release against the
// Worker's REST API, all agents at once, and records per-step latency, lease source and error codes.
import { performance } from 'node:perf_hooks';
import { call, type ApiResult } from './api.ts';
import { sleep } from './cleanup.ts';

/** One agent's identity. */
export interface AgentKey {
  agentId: string;
  key: string;
}

/** What one task (one agent round) did and how long each step took. */
export interface TaskRecord {
  agent: number;
  round: number;
  repo: string;
  taskId: string;
  message: string;
  file: string;
  ok: boolean;
  failedAt?: 'lease' | 'write' | 'push' | 'release';
  leaseId?: string;
  /** Wall-clock (epoch ms) start of the lease request, to line up with the service's row timestamps. */
  lease_started_at?: number;
  lease_ms?: number;
  lease_source?: string;
  mode?: string;
  write_ms?: number;
  push_ms?: number;
  push_attempts?: number;
  lock_wait_ms?: number;
  /** Entries landed by the push that carried this one (batched landing on the base branch). */
  batch_size?: number;
  commit?: string;
  release_ms?: number;
  task_ms?: number;
  /** Every error code seen as `step:CODE`, also those of calls that a retry then got past. */
  errors: string[];
  /** Message of the last failure (for the report), redacted by the service. */
  lastError?: string;
}

/** Options of runAgents. */
export interface AgentsOptions {
  apiUrl: string;
  keys: AgentKey[];
  /** Repo URL and short name per agent index (agent i uses repos[i % repos.length]). */
  repos: { name: string; url: string }[];
  rounds: number;
  /** Prefix of task ids and commit messages; unique per scenario. */
  tag: string;
  /** Bounded retries of retryable answers (POOL_EXHAUSTED, REPO_LOCKED, PUSH_REJECTED, …). */
  retries: number;
  /**
   * Modelled agent think time (ms): each agent starts after a random offset in [0, think) and waits
   * think ±50 % between writing and pushing, holding its lease, as a coding agent would. 0 = none.
   */
  thinkMs: number;
  signal: AbortSignal;
}

// Answers a well-behaved agent retries (after Retry-After): nothing was done, or nothing landed.
const LEASE_RETRYABLE = new Set(['POOL_EXHAUSTED', 'TOO_MANY_LEASES', 'PROVIDER_ERROR', 'DATABASE_UNAVAILABLE']);
const PUSH_RETRYABLE = new Set(['REPO_LOCKED', 'PUSH_REJECTED', 'DATABASE_UNAVAILABLE']);
const OTHER_RETRYABLE = new Set(['DATABASE_UNAVAILABLE']);

/** Calls with bounded retries on the given codes, honouring Retry-After (capped at 5 s); ms is the total. */
async function withRetry(errors: string[], step: string, retries: number, retryable: Set<string>, signal: AbortSignal, fn: () => Promise<ApiResult>): Promise<ApiResult> {
  const t0 = performance.now();
  for (let attempt = 0; ; attempt++) {
    const r = await fn();
    if (r.code) errors.push(`${step}:${r.code}`);
    if (!r.code || !retryable.has(r.code) || attempt >= retries || signal.aborted) return { ...r, ms: performance.now() - t0 };
    await sleep(Math.min(5000, (r.retryAfterS ?? 1) * 1000), signal).catch(() => {});
  }
}

async function runTask(o: AgentsOptions, agent: number, round: number): Promise<TaskRecord> {
  const { agentId, key } = o.keys[agent];
  const repo = o.repos[agent % o.repos.length];
  const taskId = `${o.tag}-a${agent}-r${round}`;
  const rec: TaskRecord = { agent, round, repo: repo.name, taskId, message: `bench ${taskId}`, file: `bench/${taskId}.txt`, ok: false, errors: [] };
  const t0 = performance.now();
  const fail = (at: TaskRecord['failedAt'], r: ApiResult) => {
    rec.failedAt = at;
    rec.lastError = `${r.code}: ${r.message ?? ''}`.slice(0, 300);
    return rec;
  };

  rec.lease_started_at = Date.now();
  const lease = await withRetry(rec.errors, 'lease', o.retries, LEASE_RETRYABLE, o.signal, () =>
    call(o.apiUrl, 'POST', '/v1/sandboxes', { key, json: { repo_url: repo.url, task_id: taskId }, timeoutMs: 180_000, signal: o.signal }),
  );
  if (lease.code) {
    rec.lease_ms = lease.ms;
    return fail('lease', lease);
  }
  // A lease whose clone outlasts the service's synchronous wait answers `initializing`: a client
  // polls it until it is ready (or failed), as the API reference says.
  let leased = lease;
  const deadline = performance.now() + 120_000;
  while (leased.body?.status === 'initializing' && performance.now() < deadline && !o.signal.aborted) {
    await sleep(500, o.signal).catch(() => {});
    const got = await call(o.apiUrl, 'GET', `/v1/sandboxes/${lease.body.id}`, { key, timeoutMs: 30_000, signal: o.signal });
    if (got.code && got.code !== 'DATABASE_UNAVAILABLE') return (rec.lease_ms = performance.now() - t0, fail('lease', got));
    if (!got.code) leased = { ...got, body: got.body };
  }
  rec.lease_ms = lease.body?.status === 'initializing' ? performance.now() - t0 : lease.ms;
  if (leased.body?.status === 'initializing' || leased.body?.status === 'error') {
    rec.leaseId = lease.body.id;
    const e = leased.body?.error as { code?: string; message?: string } | undefined;
    fail('lease', { ...leased, code: e?.code ?? 'LEASE_NOT_READY', message: e?.message ?? 'the lease did not become ready within 120 s' });
    await call(o.apiUrl, 'DELETE', `/v1/sandboxes/${lease.body.id}`, { key, timeoutMs: 120_000, signal: o.signal });
    return rec;
  }
  rec.leaseId = lease.body.id;
  rec.lease_source = lease.body.lease_source;
  rec.mode = lease.body.mode;
  try {
    const content = `${taskId} by ${agentId}\n${Math.random().toString(36).slice(2)}\n`;
    const write = await withRetry(rec.errors, 'write', o.retries, OTHER_RETRYABLE, o.signal, () =>
      call(o.apiUrl, 'PUT', `/v1/sandboxes/${rec.leaseId}/files/${rec.file}`, { key, raw: content, timeoutMs: 60_000, signal: o.signal }),
    );
    rec.write_ms = write.ms;
    if (write.code) return fail('write', write);
    if (o.thinkMs > 0) await sleep(o.thinkMs * (0.5 + Math.random()), o.signal).catch(() => {});

    const push = await withRetry(rec.errors, 'push', o.retries, PUSH_RETRYABLE, o.signal, () =>
      call(o.apiUrl, 'POST', `/v1/sandboxes/${rec.leaseId}/push`, { key, json: { message: rec.message, target: 'base' }, timeoutMs: 300_000, signal: o.signal }),
    );
    rec.push_ms = push.ms;
    if (push.code) return fail('push', push);
    rec.push_attempts = push.body.attempts;
    rec.lock_wait_ms = push.body.lock_wait_ms;
    rec.batch_size = typeof push.body.batch_size === 'number' ? push.body.batch_size : undefined;
    rec.commit = push.body.commit;
  } finally {
    // Released even after a failed step, so the sandbox goes back and the next round can run.
    const rel = await withRetry(rec.errors, 'release', o.retries, OTHER_RETRYABLE, o.signal, () =>
      call(o.apiUrl, 'DELETE', `/v1/sandboxes/${rec.leaseId}`, { key, timeoutMs: 120_000, signal: o.signal }),
    );
    rec.release_ms = rel.ms;
    rec.task_ms = performance.now() - t0;
    if (rel.code && !rec.failedAt) fail('release', rel);
  }
  rec.ok = !rec.failedAt;
  return rec;
}

/** Task time without the modelled think time (what the service and git cost the agent). */
export function busyMs(r: TaskRecord): number | undefined {
  if (r.task_ms === undefined) return undefined;
  return (r.lease_ms ?? 0) + (r.write_ms ?? 0) + (r.push_ms ?? 0) + (r.release_ms ?? 0);
}

/** Runs every agent's rounds concurrently; resolves with one record per attempted task. */
export async function runAgents(o: AgentsOptions): Promise<TaskRecord[]> {
  const out: TaskRecord[] = [];
  await Promise.all(
    o.keys.map(async (_k, agent) => {
      if (o.thinkMs > 0) await sleep(Math.random() * o.thinkMs, o.signal).catch(() => {});
      for (let round = 1; round <= o.rounds && !o.signal.aborted; round++) out.push(await runTask(o, agent, round));
    }),
  );
  return out;
}
