// Shapes shared by the capacity drivers (inside workerd) and the bench (Node): no runtime imports.

/** How long to run and how many agents. */
export interface DriveOptions {
  agents: number;
  warmupMs: number;
  durationMs: number;
  /** How long cycles in flight at the deadline may take to finish before the run reports. */
  settleMs: number;
}

/** p50/p90/p99/max in milliseconds (null when there were no samples). */
export interface Pcts {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** What one driver run measured. */
export interface DriveResult {
  agents: number;
  /** Agents whose last cycle had not finished when the run reported (an overloaded object). */
  unfinished: number;
  /** Measuring window in seconds (the warm-up excluded). */
  window_s: number;
  /** Completed operations (grants, lock cycles, no-op calls) inside the window. */
  ops: number;
  ops_per_s: number;
  /** Latency of the first call of each cycle (acquire / grant). */
  acquire_ms: Pcts;
  /** Latency of the second call (release); null for the no-op driver. */
  release_ms: Pcts | null;
  /** Refusals and failures by reason, inside the window. */
  errors: Record<string, number>;
  /** Completed operations in each second since the start (warm-up included). */
  per_s: number[];
}
