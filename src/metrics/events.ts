// The counter deltas of domain events, named once so every writer counts them the same way.
import { DeltaBuffer, type Deltas } from './series.ts';

/** Counts one git operation on a lease: result, duration and (for pushes) attempts. */
export function countGitOp(m: DeltaBuffer, op: string, result: string, durationMs: number, attempts?: number): void {
  m.inc('git_operations_total', { op, result });
  m.observe('git_op_duration_seconds', durationMs / 1000, { op });
  if (op === 'push' && attempts) m.inc('push_attempts_total', {}, attempts);
}

/** The deltas of a lock grant after `waitMs` in the queue. */
export function lockGranted(waitMs: number): Deltas {
  const m = new DeltaBuffer();
  m.observe('lock_wait_seconds', waitMs / 1000);
  return m.take();
}

/** How many entries of a landing batch ended each way. */
export function landingOutcomes(results: readonly { status: string }[]): Record<string, number> {
  const out: Record<string, number> = { landed: 0, conflict: 0, missing: 0, failed: 0 };
  for (const r of results) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

/** The deltas of a completed landing batch, by entry outcome. */
export function landingBatch(results: readonly { status: string }[]): Deltas {
  const m = new DeltaBuffer();
  m.inc('landing_batches_total');
  for (const r of results) m.inc('landing_entries_total', { result: r.status });
  return m.take();
}
