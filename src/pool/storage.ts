// PoolCoordinator SQLite schema and the mapping from config to pool settings.
import type { Config } from '../config.ts';
import { assertBranchName, parseRepoUrl, repoAllowed } from '../git/validate.ts';
import { LANDER_AGENT } from '../gateway/ref-rules.ts';
import { shardSettings } from './shards.ts';
import { ACTIVE_STATUSES, type PoolSettings } from './types.ts';

const ACTIVE_SQL = `(${ACTIVE_STATUSES.map((x) => `'${x}'`).join(',')})`;

/**
 * Counts the hot path reads on every grant and release (members by state and mode, agent leases
 * active), kept by triggers on every write of members and leases, so reading them is one lookup
 * however large the pool is (a count(*) over 5,000 members cost ~0.5 ms of CPU per grant).
 */
const COUNT_TRIGGERS_SQL = [
  `CREATE TABLE IF NOT EXISTS member_counts (state TEXT NOT NULL, mode TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (state, mode))`,
  `CREATE TABLE IF NOT EXISTS lease_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL)`,
  `CREATE TRIGGER IF NOT EXISTS members_count_ins AFTER INSERT ON members BEGIN
     INSERT OR IGNORE INTO member_counts(state, mode, n) VALUES (NEW.state, NEW.mode, 0);
     UPDATE member_counts SET n = n + 1 WHERE state = NEW.state AND mode = NEW.mode;
   END`,
  `CREATE TRIGGER IF NOT EXISTS members_count_del AFTER DELETE ON members BEGIN
     UPDATE member_counts SET n = n - 1 WHERE state = OLD.state AND mode = OLD.mode;
   END`,
  `CREATE TRIGGER IF NOT EXISTS members_count_upd AFTER UPDATE OF state, mode ON members
   WHEN OLD.state IS NOT NEW.state OR OLD.mode IS NOT NEW.mode BEGIN
     UPDATE member_counts SET n = n - 1 WHERE state = OLD.state AND mode = OLD.mode;
     INSERT OR IGNORE INTO member_counts(state, mode, n) VALUES (NEW.state, NEW.mode, 0);
     UPDATE member_counts SET n = n + 1 WHERE state = NEW.state AND mode = NEW.mode;
   END`,
  // Agent leases active now (the landers' own leases left out): demand sizing's input.
  // Active leases per agent (MAX_LEASES_PER_AGENT's count); rows at zero are removed.
  `CREATE TABLE IF NOT EXISTS agent_leases (agent_id TEXT PRIMARY KEY, n INTEGER NOT NULL)`,
  `CREATE TRIGGER IF NOT EXISTS leases_count_ins AFTER INSERT ON leases WHEN NEW.status IN ${ACTIVE_SQL} BEGIN
     INSERT OR IGNORE INTO agent_leases(agent_id, n) VALUES (NEW.agent_id, 0);
     UPDATE agent_leases SET n = n + 1 WHERE agent_id = NEW.agent_id;
     UPDATE lease_counts SET n = n + (NEW.agent_id != '${LANDER_AGENT}') WHERE name = 'agent_active';
   END`,
  `CREATE TRIGGER IF NOT EXISTS leases_count_del AFTER DELETE ON leases WHEN OLD.status IN ${ACTIVE_SQL} BEGIN
     UPDATE agent_leases SET n = n - 1 WHERE agent_id = OLD.agent_id;
     DELETE FROM agent_leases WHERE agent_id = OLD.agent_id AND n <= 0;
     UPDATE lease_counts SET n = n - (OLD.agent_id != '${LANDER_AGENT}') WHERE name = 'agent_active';
   END`,
  `CREATE TRIGGER IF NOT EXISTS leases_count_on AFTER UPDATE OF status ON leases
   WHEN NEW.status IN ${ACTIVE_SQL} AND OLD.status NOT IN ${ACTIVE_SQL} BEGIN
     INSERT OR IGNORE INTO agent_leases(agent_id, n) VALUES (NEW.agent_id, 0);
     UPDATE agent_leases SET n = n + 1 WHERE agent_id = NEW.agent_id;
     UPDATE lease_counts SET n = n + (NEW.agent_id != '${LANDER_AGENT}') WHERE name = 'agent_active';
   END`,
  `CREATE TRIGGER IF NOT EXISTS leases_count_off AFTER UPDATE OF status ON leases
   WHEN OLD.status IN ${ACTIVE_SQL} AND NEW.status NOT IN ${ACTIVE_SQL} BEGIN
     UPDATE agent_leases SET n = n - 1 WHERE agent_id = OLD.agent_id;
     DELETE FROM agent_leases WHERE agent_id = OLD.agent_id AND n <= 0;
     UPDATE lease_counts SET n = n - (OLD.agent_id != '${LANDER_AGENT}') WHERE name = 'agent_active';
   END`,
  // Seeded from the tables as they are when the triggers start counting.
  `DELETE FROM member_counts`,
  `INSERT INTO member_counts(state, mode, n) SELECT state, mode, count(*) FROM members GROUP BY state, mode`,
  `INSERT INTO lease_counts(name, n) SELECT 'agent_active', count(*) FROM leases WHERE status IN ${ACTIVE_SQL} AND agent_id != '${LANDER_AGENT}'
   ON CONFLICT(name) DO UPDATE SET n = excluded.n`,
  `DELETE FROM agent_leases`,
  `INSERT INTO agent_leases(agent_id, n) SELECT agent_id, count(*) FROM leases WHERE status IN ${ACTIVE_SQL} GROUP BY agent_id`,
  // The next lease deadline and overdue leases (the alarm's inputs) without a scan of every lease.
  `CREATE INDEX IF NOT EXISTS leases_deadline ON leases(status, expires_at)`,
];

/** Idempotent schema statements, run once when the DO starts. */
export const SCHEMA_SQL = [
  `CREATE TABLE IF NOT EXISTS members (
     sandbox_id TEXT PRIMARY KEY, state TEXT NOT NULL, repo_key TEXT, home TEXT,
     created_at INTEGER NOT NULL, retire_at INTEGER NOT NULL, lease_id TEXT, mode TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS leases (
     id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, task_id TEXT NOT NULL, repo_url TEXT NOT NULL,
     repo_key TEXT NOT NULL, branch TEXT NOT NULL, agent_branch TEXT NOT NULL, sandbox_id TEXT NOT NULL,
     mode TEXT NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL, workdir TEXT, home TEXT, idem_key TEXT)`,
  `CREATE INDEX IF NOT EXISTS leases_agent ON leases(agent_id, status)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS leases_idem ON leases(agent_id, idem_key) WHERE idem_key IS NOT NULL`,
  `CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
];

/** Renames the millisecond histograms (lease_wait_ms, create_ms) to seconds, converting bounds and sums. */
export const MS_TO_SECONDS_SQL = `UPDATE counters SET
  value = CASE WHEN name GLOB '*_ms_sum' THEN value / 1000.0 ELSE value END,
  name = CASE
    WHEN name GLOB '*_ms_bucket{le="+Inf"}' THEN replace(name, '_ms_bucket', '_seconds_bucket')
    WHEN name GLOB '*_ms_bucket{le="*"}' THEN substr(name, 1, instr(name, '_ms_bucket') - 1) || '_seconds_bucket{le="'
      || printf('%g', CAST(substr(name, instr(name, 'le="') + 4, length(name) - instr(name, 'le="') - 5) AS REAL) / 1000.0) || '"}'
    ELSE replace(name, '_ms_', '_seconds_') END
  WHERE name GLOB 'lease_wait_ms_*' OR name GLOB 'create_ms_*'`;

/** Column additions, applied once each in order; the applied count is kept in kv('schema_version'). */
export const MIGRATIONS_SQL = [
  `ALTER TABLE leases ADD COLUMN idem_fp TEXT`,
  MS_TO_SECONDS_SQL,
  // When a member last turned idle (null while not idle), for the idle sandbox-seconds counter.
  `ALTER TABLE members ADD COLUMN idle_since INTEGER`,
  `ALTER TABLE members ADD COLUMN repo_url TEXT`,
  `ALTER TABLE members ADD COLUMN base_branch TEXT`,
  `ALTER TABLE members ADD COLUMN base_commit TEXT`,
  `ALTER TABLE leases ADD COLUMN base_commit TEXT`,
  `ALTER TABLE leases ADD COLUMN fetched_at INTEGER`,
  // Lease arrivals (demand sizing's first input; superseded by the demand table below, dropped there).
  `CREATE TABLE IF NOT EXISTS arrivals (at INTEGER NOT NULL)`,
  // The last tip of each repo + branch the service saw upstream (checked, or moved by its own landing).
  `CREATE TABLE IF NOT EXISTS repo_tips (repo_key TEXT NOT NULL, branch TEXT NOT NULL, repo_url TEXT NOT NULL, sha TEXT, checked_at INTEGER NOT NULL, PRIMARY KEY (repo_key, branch))`,
  // Why a lease failed, as its owner may read it (JSON {code, message}; public text only).
  `ALTER TABLE leases ADD COLUMN failure TEXT`,
  `ALTER TABLE arrivals ADD COLUMN active INTEGER NOT NULL DEFAULT 1`,
  // A grant picks its member with index lookups (PoolStore.pickIdle), never a scan of every member;
  // counts by state (leased, warm) use the same indexes.
  `CREATE INDEX IF NOT EXISTS members_pick ON members(state, mode, repo_key, created_at)`,
  `CREATE INDEX IF NOT EXISTS members_age ON members(state, mode, created_at)`,
  // Demand: the peak of concurrent agent leases per 10 s bucket (replaces a row per arrival).
  `CREATE TABLE IF NOT EXISTS demand (bucket INTEGER PRIMARY KEY, peak INTEGER NOT NULL)`,
  `DROP TABLE IF EXISTS arrivals`,
  ...COUNT_TRIGGERS_SQL,
];

/** Pool settings of shard `shard` from the parsed config (its share of the totals when POOL_SHARDS > 1). */
export function settingsFromConfig(cfg: Config, shard = 0): PoolSettings {
  return shardSettings(deploymentSettings(cfg), cfg.POOL_SHARDS, shard);
}

/** The deployment's pool settings (totals over every shard). */
function deploymentSettings(cfg: Config): PoolSettings {
  return {
    poolMin: cfg.POOL_MIN,
    poolMax: cfg.POOL_MAX,
    maxSandboxes: cfg.MAX_SANDBOXES,
    createPerSec: cfg.CREATE_PER_SEC,
    leaseWaitMs: cfg.LEASE_WAIT_MS,
    maxWaiters: cfg.MAX_WAITERS,
    ttlS: cfg.SANDBOX_TTL_S,
    idleMaxAgeS: cfg.IDLE_MAX_AGE_S,
    reusePolicy: cfg.REUSE_POLICY,
    maxLeasesPerAgent: cfg.MAX_LEASES_PER_AGENT,
    maxStalenessS: cfg.MAX_STALENESS_S,
    prewarmRepos: parsePrewarmRepos(cfg.PREWARM_REPOS, cfg.ALLOWED_REPOS),
  };
}

/** Parses PREWARM_REPOS (`url[#branch]`, comma-separated); entries outside ALLOWED_REPOS are an error. */
export function parsePrewarmRepos(list: string, allowed: string): PoolSettings['prewarmRepos'] {
  return list
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((entry) => {
      const [raw, branch = 'main'] = entry.split('#');
      const repo = parseRepoUrl(raw);
      if (!repoAllowed(repo, allowed)) throw new Error(`PREWARM_REPOS: ${repo.key} is not in ALLOWED_REPOS`);
      return { url: repo.url, key: repo.key, host: repo.host, branch: assertBranchName(branch, 'PREWARM_REPOS branch') };
    });
}
