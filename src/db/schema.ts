// Postgres schema (drizzle): the system of record for leases, git operation history and API keys.
// Column names and defaults of git_sandboxes follow the seed plan's table; lease columns are added.
import {
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  serial,
  text,
  timestamp,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/pg-core';

/** One row per lease of a sandbox (status initializing → ready → in_use → terminated | error). */
export const gitSandboxes = pgTable(
  'git_sandboxes',
  {
    id: serial('id').primaryKey(),
    sandboxId: varchar('sandbox_id').notNull(),
    agentId: varchar('agent_id').notNull(),
    taskId: varchar('task_id').notNull(),
    repoUrl: varchar('repo_url').notNull(),
    branch: varchar('branch').default('main'),
    agentBranch: varchar('agent_branch'),
    status: varchar('status').default('initializing'),
    lastOperation: varchar('last_operation'),
    createdAt: timestamp('created_at', { withTimezone: true }).defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    terminatedAt: timestamp('terminated_at', { withTimezone: true }),
    errorCount: integer('error_count').default(0),
    /** AES-GCM ciphertext (base64) of the redacted error text. */
    lastError: varchar('last_error'),
    config: jsonb('config'),
    isPooled: boolean('is_pooled').default(true),
    poolSize: integer('pool_size').default(1),
    // Lease columns.
    leaseId: varchar('lease_id').notNull(),
    workdir: varchar('workdir'),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    leaseSource: varchar('lease_source'),
    mode: varchar('mode').default('pooled'),
    releasedAt: timestamp('released_at', { withTimezone: true }),
  },
  (t) => [
    // sandbox_id is UNIQUE in the seed; a pooled sandbox serves many leases, so uniqueness is per lease.
    uniqueIndex('git_sandboxes_lease_id_key').on(t.leaseId),
    index('git_sandboxes_sandbox_id_idx').on(t.sandboxId),
    index('git_sandboxes_agent_id_idx').on(t.agentId),
    index('git_sandboxes_task_id_idx').on(t.taskId),
    index('git_sandboxes_agent_branch_idx').on(t.agentBranch),
    index('git_sandboxes_status_idx').on(t.status),
  ],
);

/** History and audit of every git operation and lock event. */
export const gitOperations = pgTable(
  'git_operations',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    leaseId: varchar('lease_id'),
    agentId: varchar('agent_id'),
    repoUrl: varchar('repo_url'),
    op: varchar('op').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    durationMs: integer('duration_ms'),
    attempts: integer('attempts').default(1),
    lockWaitMs: integer('lock_wait_ms'),
    result: varchar('result').notNull(),
    commitSha: varchar('commit_sha'),
    targetBranch: varchar('target_branch'),
    error: text('error'),
    detail: jsonb('detail'),
  },
  (t) => [
    index('git_operations_lease_id_idx').on(t.leaseId),
    index('git_operations_started_at_idx').on(t.startedAt),
    index('git_operations_op_idx').on(t.op),
    // /v1/operations pages one agent's rows by id.
    index('git_operations_agent_id_id_idx').on(t.agentId, t.id),
  ],
);

/** Bearer API keys: only the SHA-256 hash of a key is stored. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: varchar('id').primaryKey(),
    agentId: varchar('agent_id').notNull(),
    keyHash: varchar('key_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    // Set when the key was rotated: it keeps working until then (the grace period).
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('api_keys_key_hash_key').on(t.keyHash),
    index('api_keys_agent_id_idx').on(t.agentId),
  ],
);

/** The pull request a lease's agent branch opened against its base (target "pull_request"), as last read from GitHub. */
export const pullRequests = pgTable(
  'pull_requests',
  {
    id: serial('id').primaryKey(),
    leaseId: varchar('lease_id').notNull(),
    agentId: varchar('agent_id').notNull(),
    repoUrl: varchar('repo_url').notNull(),
    number: integer('number').notNull(),
    url: varchar('url').notNull(),
    /** open | closed | merged */
    state: varchar('state').notNull(),
    draft: boolean('draft').notNull().default(false),
    autoMerge: boolean('auto_merge').notNull().default(false),
    headBranch: varchar('head_branch').notNull(),
    baseBranch: varchar('base_branch').notNull(),
    headSha: varchar('head_sha'),
    mergeCommitSha: varchar('merge_commit_sha'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** When the state was last read from GitHub; the poller refreshes open ones oldest first. */
    checkedAt: timestamp('checked_at', { withTimezone: true }).notNull().defaultNow(),
    closedAt: timestamp('closed_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('pull_requests_lease_id_key').on(t.leaseId),
    index('pull_requests_state_checked_at_idx').on(t.state, t.checkedAt),
  ],
);
