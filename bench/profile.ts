// Where the time goes, from the service's own records in Postgres: per push, the server-side duration
// and lock wait (git_operations) against the agent's wall time; per lease, the time until the row was
// inserted (acquire: pool wait or create) against the rest (clone/fetch in the sandbox).
import pg from 'pg';
import type { TaskRecord } from './agents.ts';
import { pcts, type Pcts } from './stats.ts';

/** Breakdown of push and lease latency for one scenario. */
export interface Profile {
  push: {
    /** Agent-measured push time. */
    client_ms: Pcts;
    /** Server-side duration of the push operation (git_operations.duration_ms). */
    server_ms: Pcts;
    /** Time waiting for the RepoLock. */
    lock_wait_ms: Pcts;
    /** Server time outside the lock wait: connect, commit, fetch + rebase + push attempts, lock calls. */
    work_ms: Pcts;
    /** Agent time not in the server's duration: HTTP, auth, the operation's own DB writes. */
    overhead_ms: Pcts;
    /** Successful pushes by number of landing attempts. */
    attempts: Record<string, number>;
    /**
     * Server-side wall time per push step (the push's `detail.steps`: commit_queue, lock_wait,
     * wait_for_other, land_script and its in-sandbox in_* phases, sync, …); a push that skipped a step counts 0.
     */
    steps: Record<string, Pcts>;
  };
  lease: {
    client_ms: Pcts;
    /** Request start → lease row inserted (auth + pool acquire: idle pick, wait, or create). */
    acquire_ms: Pcts;
    /** Lease row inserted → response (clone or fetch + branch in the sandbox, bookkeeping). */
    prepare_ms: Pcts;
  };
  /** Server-side durations of the other operations (file_write), by op. */
  ops: Record<string, Pcts>;
}

/** Percentiles per step over the pushes' step records (a step a push did not take counts 0). */
export function stepPcts(rows: (Record<string, unknown> | null)[]): Record<string, Pcts> {
  const keys = [...new Set(rows.flatMap((r) => (r ? Object.keys(r) : [])))].filter((k) => k !== 'batch_size');
  const out: Record<string, Pcts> = {};
  for (const k of keys) out[k] = pcts(rows.filter((r) => r).map((r) => (typeof r![k] === 'number' ? (r![k] as number) : 0)));
  return out;
}

/** Reads the scenario's operation rows and lease rows and computes the breakdown. */
export async function profileScenario(databaseUrl: string, records: TaskRecord[]): Promise<Profile> {
  const ids = records.map((r) => r.leaseId).filter((x): x is string => !!x);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const ops = await client.query<{ lease_id: string; op: string; duration_ms: number; lock_wait_ms: number | null; attempts: number | null; result: string; steps: Record<string, unknown> | null }>(
      `SELECT lease_id, op, duration_ms, lock_wait_ms, attempts, result, detail->'steps' AS steps FROM git_operations WHERE lease_id = ANY($1)`,
      [ids],
    );
    const leases = await client.query<{ lease_id: string; created_ms: string }>(
      `SELECT lease_id, (extract(epoch from created_at) * 1000)::bigint AS created_ms FROM git_sandboxes WHERE lease_id = ANY($1)`,
      [ids],
    );
    const byLease = new Map(records.filter((r) => r.leaseId).map((r) => [r.leaseId!, r]));
    const pushes = ops.rows.filter((o) => o.op === 'push' && o.result === 'ok');
    const attempts: Record<string, number> = {};
    for (const p of pushes) attempts[String(p.attempts ?? 1)] = (attempts[String(p.attempts ?? 1)] ?? 0) + 1;
    const otherOps: Record<string, number[]> = {};
    for (const o of ops.rows) if (o.op !== 'push' && o.result === 'ok') (otherOps[o.op] ??= []).push(o.duration_ms);
    const created = new Map(leases.rows.map((l) => [l.lease_id, Number(l.created_ms)]));
    const acq: number[] = [];
    const prep: number[] = [];
    for (const r of records) {
      const c = r.leaseId ? created.get(r.leaseId) : undefined;
      if (c === undefined || r.lease_started_at === undefined || r.lease_ms === undefined) continue;
      acq.push(c - r.lease_started_at);
      prep.push(r.lease_started_at + r.lease_ms - c);
    }
    return {
      push: {
        client_ms: pcts(pushes.map((p) => byLease.get(p.lease_id)?.push_ms)),
        server_ms: pcts(pushes.map((p) => p.duration_ms)),
        lock_wait_ms: pcts(pushes.map((p) => p.lock_wait_ms ?? 0)),
        work_ms: pcts(pushes.map((p) => p.duration_ms - (p.lock_wait_ms ?? 0))),
        overhead_ms: pcts(pushes.map((p) => {
          const c = byLease.get(p.lease_id)?.push_ms;
          return c === undefined ? undefined : c - p.duration_ms;
        })),
        attempts,
        steps: stepPcts(pushes.map((p) => p.steps)),
      },
      lease: { client_ms: pcts(records.filter((r) => r.leaseId).map((r) => r.lease_ms)), acquire_ms: pcts(acq), prepare_ms: pcts(prep) },
      ops: Object.fromEntries(Object.entries(otherOps).map(([k, v]) => [k, pcts(v)])),
    };
  } finally {
    await client.end().catch(() => {});
  }
}
