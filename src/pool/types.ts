// Types shared by the PoolCoordinator DO and its callers (RPC values, never thrown).
import type { Mode } from './rollout.ts';
import type { LeaseSource } from './decide.ts';

/** Pool settings, from config, overridable per coordinator (tests, staged rollout). */
export interface PoolSettings {
  poolMin: number;
  poolMax: number;
  maxSandboxes: number;
  createPerSec: number;
  leaseWaitMs: number;
  maxWaiters: number;
  ttlS: number;
  idleMaxAgeS: number;
  reusePolicy: 'reuse' | 'discard';
  maxLeasesPerAgent: number;
  /** An idle clone whose base was seen as the tip within this long is leased without a fetch. */
  maxStalenessS: number;
  /** Repos cloned into new warm members ahead of demand (normalised URL + base branch). */
  prewarmRepos: { url: string; key: string; host: string; branch: string }[];
}

export type LeaseStatus = 'initializing' | 'ready' | 'in_use' | 'terminated' | 'expired' | 'error';

/**
 * How long a lease may stay initializing: a clone's command is bounded at 120 s and connecting at
 * 60 s, so one still initializing past this was cut off (its Worker's background time ended).
 */
export const PREPARE_DEADLINE_MS = 240_000;

/** Statuses of a lease that still holds its sandbox. */
export const ACTIVE_STATUSES: readonly LeaseStatus[] = ['initializing', 'ready', 'in_use'];

/** A lease as the coordinator stores it (provider ids stay inside the service). */
export interface LeaseRecord {
  id: string;
  agent_id: string;
  task_id: string;
  repo_url: string;
  repo_key: string;
  branch: string;
  agent_branch: string;
  sandbox_id: string;
  mode: Mode;
  source: LeaseSource;
  status: LeaseStatus;
  created_at: number;
  expires_at: number;
  workdir: string | null;
  home: string | null;
  idem_key: string | null;
  /** The base commit the clone starts from, and when the service last saw it as the tip (null: fetch at prepare). */
  base_commit?: string | null;
  fetched_at?: number | null;
  /** Why the lease failed, for its owner: JSON `{code, message}` (public text only). */
  failure?: string | null;
}

/** What a caller asks for. */
export interface AcquireRequest {
  agentId: string;
  taskId: string;
  repoUrl: string;
  repoKey: string;
  branch: string;
  agentBranch: string;
  mode: Mode;
  ttlS?: number;
  idemKey?: string;
}

/** Who a gateway credential belongs to, resolved by the coordinator on every git request. */
export interface GitPrincipal {
  kind: 'lease' | 'lander' | 'member';
  agentId: string;
  leaseId: string;
  repoKey: string;
  repoUrl: string;
  baseBranch: string;
}

export type AcquireResult =
  | { ok: true; lease: LeaseRecord; existing: boolean; waitedMs: number }
  | { ok: false; reason: 'exhausted' | 'queue_full' | 'agent_limit' | 'provider' | 'idempotency_mismatch' | 'draining'; message: string; retryAfterS: number };

export type LeaseLookup =
  | { ok: true; lease: LeaseRecord }
  | { ok: false; reason: 'not_found' | 'expired' | 'terminated' | 'error'; lease?: LeaseRecord };

/** Gauges and counters for /metrics. */
export interface PoolStats {
  members: Record<string, number>;
  waiters: number;
  leases_active: number;
  counters: Record<string, number>;
  settings: PoolSettings;
  idle: { sandbox_id: string; repo_key: string | null }[];
  /** True while the pool is draining: no new leases, idle members terminated. */
  draining: boolean;
  /** Lease transitions not yet copied to Postgres (git_sandboxes): grows while the database is down or slow. */
  projection_backlog: number;
}

/** What a drain did. */
export interface DrainReport {
  draining: true;
  force: boolean;
  idle_terminated: number;
  leases_ended: number;
  /** Leases still active (they end on release or expiry). */
  leases_active: number;
}
