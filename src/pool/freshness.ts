// Fresh idle members: the upstream tip of each repo + branch the pool holds clones of (checked at
// most every MAX_STALENESS_S, or moved by the service's own landing), and the background refresh
// that brings idle clones to it. Used by the PoolCoordinator, which owns the members.
import { parseConfig } from '../config.ts';
import { gatewayAuthorization, principalUser } from '../gateway/credentials.ts';
import { upstreamTip } from '../gateway/upstream-refs.ts';
import type { Logger } from '../lib/log.ts';
import { refreshClone } from '../sandbox/maintenance.ts';
import type { ProviderOptions } from '../sandbox/provider.ts';
import { idleTimeoutMs } from './decide.ts';
import type { PoolStore } from './store.ts';
import type { PoolSettings } from './types.ts';

/** What the refresh needs from its coordinator. */
export interface FreshnessDeps {
  sql: SqlStorage;
  db: PoolStore;
  env: Env;
  log: Logger;
  provider(): ProviderOptions;
  poolName(): string;
  /** Ends a member whose refresh failed. */
  terminate(sandboxId: string, reason: string): Promise<void>;
  /** Serves waiting leases (a refreshed member is idle again). */
  pump(): Promise<void>;
}

/** Idle clones to bring to the tip at once, per refresh round. */
const REFRESH_AT_ONCE = 5;

/** Repo tips as the service last saw them, and the refresh of idle clones behind them. */
export class IdleFreshness {
  #d: FreshnessDeps;
  #refreshing: Promise<void> | null = null;

  constructor(d: FreshnessDeps) {
    this.#d = d;
  }

  /** Records the tip of a repo + branch the service has just seen (read upstream, or moved by its own landing). */
  seeTip(repoKey: string, branch: string, repoUrl: string, sha: string | null, at: number): void {
    this.#d.sql.exec(
      `INSERT INTO repo_tips(repo_key, branch, repo_url, sha, checked_at) VALUES (?,?,?,?,?) ON CONFLICT(repo_key, branch) DO UPDATE SET sha=excluded.sha, checked_at=excluded.checked_at, repo_url=excluded.repo_url`,
      repoKey, branch, repoUrl, sha, at,
    );
  }

  /** The last tip seen of a repo + branch, and when. */
  tip(repoKey: string, branch: string): { sha: string | null; checked_at: number } | null {
    return this.#d.db.rows<{ sha: string | null; checked_at: number }>(`SELECT sha, checked_at FROM repo_tips WHERE repo_key=? AND branch=?`, repoKey, branch)[0] ?? null;
  }

  /** Reads a branch tip from the upstream (no sandbox involved) and records it. */
  async #checkTip(repoKey: string, branch: string, repoUrl: string): Promise<string | null> {
    const sha = await upstreamTip(parseConfig(this.#d.env), repoUrl, branch);
    this.seeTip(repoKey, branch, repoUrl, sha, Date.now());
    return sha;
  }

  /**
   * Keeps idle clones at the tip: checks each repo's tip at most every MAX_STALENESS_S, and fetches
   * into idle members whose base is behind (a read-only member credential, the member out of the
   * idle set meanwhile), a few at a time. Concurrent calls share one round.
   */
  refreshIdle(now: number, s: PoolSettings): Promise<void> {
    if (this.#refreshing) return this.#refreshing;
    this.#refreshing = (async () => {
      const idle = this.#d.db.members().filter((m) => m.state === 'idle' && m.mode === 'pooled' && m.repo_key && m.repo_url && m.base_branch);
      const tips = new Map<string, string | null>();
      for (const m of idle) {
        const k = `${m.repo_key}#${m.base_branch}`;
        if (tips.has(k)) continue;
        const row = this.tip(m.repo_key!, m.base_branch!);
        const fresh = row && now - row.checked_at <= s.maxStalenessS * 1000;
        tips.set(k, fresh ? row.sha : await this.#checkTip(m.repo_key!, m.base_branch!, m.repo_url!).catch(() => row?.sha ?? null));
      }
      const behind = idle.filter((m) => { const t = tips.get(`${m.repo_key}#${m.base_branch}`); return !!t && t !== m.base_commit; }).slice(0, REFRESH_AT_ONCE);
      await Promise.all(behind.map((m) => this.#refreshMember(m.sandbox_id, tips.get(`${m.repo_key}#${m.base_branch}`)!, s)));
    })().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #refreshMember(sandboxId: string, tip: string, s: PoolSettings): Promise<void> {
    const { db, sql, log } = this.#d;
    // Invariant: only an idle member is refreshed, and it leaves the idle set in the same block.
    const m = db.member(sandboxId);
    if (!m || m.state !== 'idle' || !m.repo_key || !m.base_branch) return;
    sql.exec(`UPDATE members SET state='refreshing' WHERE sandbox_id=?`, sandboxId);
    let sha: string | null = null;
    try {
      const cfg = parseConfig(this.#d.env);
      const authorization = await gatewayAuthorization(cfg.ERROR_ENCRYPTION_KEY, principalUser(`mbr_${sandboxId}`, this.#d.poolName()));
      sha = await refreshClone(this.#d.provider(), sandboxId, idleTimeoutMs(s), m.base_branch, authorization);
    } catch (e) {
      log.warn('refresh_failed', { sandbox: sandboxId, error: String(e instanceof Error ? e.message : e) });
    }
    const cur = db.member(sandboxId);
    if (!cur || cur.state !== 'refreshing') return;
    if (sha) {
      sql.exec(`UPDATE members SET state='idle', base_commit=? WHERE sandbox_id=?`, sha, sandboxId);
      if (sha !== tip) log.info('refresh_behind', { sandbox: sandboxId });
    } else {
      await this.#d.terminate(sandboxId, 'refresh_failed');
    }
    await this.#d.pump();
  }
}
