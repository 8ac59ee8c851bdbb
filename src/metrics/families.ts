// The metric registry: every family /metrics exports, with its type, help text, histogram buckets
// (seconds) and the label values known in advance, which are exported at zero from the start.

/** One metric family (names here omit the `git_sandbox_` prefix). */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  /** Label names in output order. */
  labels?: readonly string[];
  /** Label values known in advance; every combination is exported (at zero until counted). */
  known?: Readonly<Record<string, readonly string[]>>;
  /** Histogram upper bounds in seconds (+Inf is implied). */
  buckets?: readonly number[];
}

/** The prefix of every exported name. */
export const PREFIX = 'git_sandbox_';

const FAST = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** The coordinator's histograms keep the bounds their stored millisecond buckets were converted from. */
const POOL = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SLOW = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const MODES = ['pooled', 'direct'];
/** Git operations recorded by the services (withOperation's `op`). */
export const GIT_OPS = ['status', 'diff', 'pull', 'push', 'exec', 'file_read', 'file_write', 'file_delete', 'log', 'show', 'list_files', 'search', 'files_write'];

/** Families whose numbers the PoolCoordinator keeps (its SQLite `counters` table and gauges). */
export const POOL_FAMILIES: readonly Family[] = [
  { name: 'pool_members', type: 'gauge', help: 'Pool members by state and mode.', labels: ['state', 'mode'], known: { state: ['creating', 'idle', 'leased', 'scrubbing'], mode: MODES } },
  { name: 'pool_waiters', type: 'gauge', help: 'Lease requests waiting for a sandbox.' },
  { name: 'pool_projection_backlog', type: 'gauge', help: 'Lease transitions not yet copied to Postgres (grows while the database is down or slow).' },
  { name: 'leases_active', type: 'gauge', help: 'Leases that hold a sandbox.' },
  { name: 'pool_min', type: 'gauge', help: 'Idle warm sandboxes the pool keeps (POOL_MIN).' },
  { name: 'pool_max_sandboxes', type: 'gauge', help: 'Most sandboxes the pool may hold (MAX_SANDBOXES).' },
  { name: 'pool_draining', type: 'gauge', help: '1 while the pool is draining (no new leases), else 0.' },
  { name: 'pool_reuse_ratio', type: 'gauge', help: 'Share of granted leases served by an existing sandbox.' },
  { name: 'pool_idle_sandbox_seconds_total', type: 'counter', help: 'Seconds pool members spent idle, summed over members.' },
  { name: 'leases_total', type: 'counter', help: 'Leases granted, by how the sandbox was found and by rollout mode.', labels: ['source', 'mode'], known: { source: ['warm', 'affinity', 'cold'], mode: MODES } },
  { name: 'leases_reused_total', type: 'counter', help: 'Leases granted, by whether the sandbox already existed.', labels: ['reused'], known: { reused: ['true', 'false'] } },
  { name: 'leases_expired_total', type: 'counter', help: 'Leases that reached their deadline without being released.' },
  { name: 'lease_wait_seconds', type: 'histogram', help: 'Time from a lease request to its grant.', buckets: POOL },
  { name: 'lease_rejections_total', type: 'counter', help: 'Lease requests refused, by reason.', labels: ['reason'], known: { reason: ['exhausted', 'queue_full', 'draining'] } },
  { name: 'create_seconds', type: 'histogram', help: 'Time to create and set up a sandbox at the provider.', buckets: POOL },
  { name: 'creates_total', type: 'counter', help: 'Sandboxes created, by rollout mode.', labels: ['mode'], known: { mode: MODES } },
  { name: 'create_failures_total', type: 'counter', help: 'Sandbox creations that failed.' },
  { name: 'returns_total', type: 'counter', help: 'Released sandboxes scrubbed and returned to the pool.', labels: ['result'], known: { result: ['reused'] } },
  {
    name: 'terminations_total',
    type: 'counter',
    help: 'Sandboxes terminated, by reason.',
    labels: ['reason'],
    known: { reason: ['retired', 'surplus', 'expired', 'discard', 'direct_release', 'unhealthy', 'health', 'orphan', 'scrub_lost', 'drain'] },
  },
  { name: 'health_failures_total', type: 'counter', help: 'Sandboxes found dead, by where.', labels: ['where'], known: { where: ['sweep', 'lease', 'return'] } },
];

/** Families the MetricsHub keeps: events that happen in the Worker and in the RepoLock DOs. */
export const HUB_FAMILIES: readonly Family[] = [
  { name: 'http_requests_total', type: 'counter', help: 'HTTP requests answered, by matched route pattern and status.', labels: ['route', 'status'] },
  { name: 'http_request_duration_seconds', type: 'histogram', help: 'Time from request to response headers, by matched route pattern.', labels: ['route'], buckets: FAST },
  { name: 'git_operations_total', type: 'counter', help: 'Git operations on leases, by operation and result (ok or the lowercased error code).', labels: ['op', 'result'], known: { op: GIT_OPS, result: ['ok'] } },
  { name: 'git_op_duration_seconds', type: 'histogram', help: 'Duration of git operations on leases, by operation.', labels: ['op'], known: { op: GIT_OPS }, buckets: SLOW },
  { name: 'push_attempts_total', type: 'counter', help: 'Push attempts, retries included.' },
  { name: 'lock_wait_seconds', type: 'histogram', help: 'Time a push waited for its repo lock before the grant.', buckets: SLOW },
  { name: 'lock_timeouts_total', type: 'counter', help: 'Lock requests that gave up waiting (423 REPO_LOCKED).' },
  { name: 'lock_expiries_total', type: 'counter', help: 'Lock holders that died and whose lock expired.' },
  { name: 'landing_batches_total', type: 'counter', help: 'Landing batches completed by a lock holder.' },
  { name: 'landing_entries_total', type: 'counter', help: 'Queued pushes settled by landing batches, by outcome.', labels: ['result'], known: { result: ['landed', 'conflict', 'missing', 'failed'] } },
];

/** Families computed by the /metrics handler itself. */
export const PROBE_FAMILIES: readonly Family[] = [
  { name: 'database_up', type: 'gauge', help: '1 when Postgres answered a probe during this scrape, else 0.' },
];

/** Every family, in output order. */
export const FAMILIES: readonly Family[] = [...POOL_FAMILIES, ...HUB_FAMILIES, ...PROBE_FAMILIES];

const BY_NAME = new Map(FAMILIES.map((f) => [f.name, f]));

/** The family of a name, or undefined. */
export function family(name: string): Family | undefined {
  return BY_NAME.get(name);
}

/** The buckets of a histogram family; throws for an unregistered one (a bug). */
export function bucketsOf(name: string): readonly number[] {
  const f = BY_NAME.get(name);
  if (!f?.buckets) throw new Error(`not a registered histogram: ${name}`);
  return f.buckets;
}
