// Sends counter deltas to the MetricsHub without making the caller wait or fail.
import { metricsHub } from '../durable/metrics-hub.ts';
import type { Logger } from '../lib/log.ts';
import type { Deltas } from './series.ts';

/** Reports `deltas` to the hub in the background (via `waitUntil`); a failure is logged, never thrown. */
export function reportDeltas(env: Env, deltas: Deltas, log: Logger, waitUntil: (p: Promise<unknown>) => void): void {
  if (!Object.keys(deltas).length) return;
  waitUntil(
    metricsHub(env)
      .add(deltas)
      .catch((e: unknown) => log.warn('metrics_report_failed', { error: String(e instanceof Error ? e.message : e) })),
  );
}
