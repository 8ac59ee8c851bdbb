// Git operations on a lease: status, diff, pull, push (serialized by RepoLock). Each one records
// a git_operations row and updates the lease row.
import { AppError, isAppError } from '../errors.ts';
import { patchLeaseRows, recordOperation, redactFor, type OperationRecord } from '../db/lease-rows.ts';
import { backoffMs, lockName } from '../lock/decide.ts';
import { EXIT, commitScript, conflictPaths, landScript, pullScript } from '../git/scripts.ts';
import { gitEnv, q } from '../git/shell.ts';
import { markers, parseNumstatZ, parseStatusV2, type FileStat, type GitStatus } from '../git/status.ts';
import { assertRepoPath, parseRepoUrl } from '../git/validate.ts';
import type { LeaseRecord } from '../pool/types.ts';
import { run } from '../sandbox/provider.ts';
import type { RepoLock } from '../durable/repo-lock.ts';
import type { ServiceContext } from './context.ts';
import { openLease, type OpenLease } from './leases.ts';

/** Runs `fn` as operation `op` on the caller's lease, recording the outcome. */
export async function withOperation<T>(
  ctx: ServiceContext,
  agentId: string,
  id: string,
  op: string,
  fn: (o: OpenLease, rec: Partial<OperationRecord>) => Promise<T>,
): Promise<T> {
  const started = Date.now();
  const open = await openLease(ctx, agentId, id);
  const rec: Partial<OperationRecord> = {};
  let result = 'ok';
  let error: string | undefined;
  try {
    return await fn(open, rec);
  } catch (e) {
    result = isAppError(e) ? e.code.toLowerCase() : 'error';
    error = isAppError(e) ? (e.internal ?? e.message) : String(e);
    throw e;
  } finally {
    const durationMs = Date.now() - started;
    const db = ctx.db();
    try {
      await recordOperation(ctx.env, db, { leaseId: id, agentId, repoUrl: open.lease.repo_url, op, startedAt: started, durationMs, result, error, ...rec });
      await patchLeaseRows(ctx.env, db, [id], { status: 'in_use', lastOperation: op, error });
    } catch (e) {
      // History is best effort: the git operation itself has already happened.
      ctx.log.warn('operation_record_failed', { op, lease: id, error: String(e instanceof Error && e.cause ? e.cause : e) });
    }
    ctx.log.info('git_op', { op, lease: id, agent: agentId, result, duration_ms: durationMs, attempts: rec.attempts, lock_wait_ms: rec.lockWaitMs });
  }
}

function failed(ctx: ServiceContext, what: string, r: { exitCode: number; stderr: string }): AppError {
  const tail = redactFor(ctx.env, r.stderr.trim().split('\n').slice(-5).join('\n'));
  return new AppError('GIT_FAILED', `${what} failed (exit ${r.exitCode})${tail ? `: ${tail}` : ''}`, { internal: r.stderr });
}

/** Parsed `git status` of the lease's repo. */
export async function gitStatus(ctx: ServiceContext, agentId: string, id: string): Promise<GitStatus> {
  return withOperation(ctx, agentId, id, 'status', async ({ lease, sbx }) => {
    const r = await run(sbx, 'git status --porcelain=v2 --branch -z --untracked-files=all', { cwd: lease.workdir! });
    if (r.exitCode !== 0) throw failed(ctx, 'git status', r);
    return parseStatusV2(r.stdout);
  });
}

/** Options of a diff. */
export interface DiffOptions {
  against: 'head' | 'index' | 'base';
  path?: string;
  maxBytes: number;
}

/** A bounded unified diff with per-file counts. */
export interface DiffResult {
  diff: string;
  files: FileStat[];
  truncated: boolean;
}

/** Unified diff + numstat against HEAD, the index, or origin/<base>. */
export async function gitDiff(ctx: ServiceContext, agentId: string, id: string, o: DiffOptions): Promise<DiffResult> {
  const path = o.path ? assertRepoPath(o.path) : undefined;
  return withOperation(ctx, agentId, id, 'diff', async ({ lease, sbx }) => {
    const rev = o.against === 'head' ? 'HEAD' : o.against === 'index' ? '--cached' : q(`origin/${lease.branch}`);
    const spec = `${rev}${path ? ` -- ${q(path)}` : ''}`;
    const script = `git diff --numstat -z ${spec} || exit 1; printf '\\n__GS_SPLIT__\\n'; git diff ${spec} | head -c ${o.maxBytes + 1}`;
    const r = await run(sbx, script, { cwd: lease.workdir! });
    if (r.exitCode !== 0) throw failed(ctx, 'git diff', r);
    const at = r.stdout.indexOf('\n__GS_SPLIT__\n');
    const numstat = r.stdout.slice(0, at);
    const raw = r.stdout.slice(at + '\n__GS_SPLIT__\n'.length);
    const bytes = new TextEncoder().encode(raw);
    const truncated = bytes.length > o.maxBytes;
    const diff = truncated ? new TextDecoder().decode(bytes.slice(0, o.maxBytes)).replace(/\uFFFD$/, '') : raw;
    return { diff, files: parseNumstatZ(numstat).map(({ path: p, additions, deletions }) => ({ path: p, additions, deletions, binary: false })), truncated };
  });
}

/** Result of a pull. */
export interface PullResult {
  head: string;
  previous_head: string;
  updated: boolean;
}

/** Fetches and rebases the lease's branch onto origin/<base> (autostash); conflicts abort cleanly. */
export async function gitPull(ctx: ServiceContext, agentId: string, id: string): Promise<PullResult> {
  return withOperation(ctx, agentId, id, 'pull', async ({ lease, sbx }) => {
    const r = await run(sbx, pullScript(), { envs: netEnv(ctx, lease, { GS_BASE: lease.branch }), timeoutMs: 120_000 });
    if (r.exitCode === EXIT.CONFLICT) throw conflictError(conflictPaths(r.stdout), lease.branch);
    if (r.exitCode !== 0) throw failed(ctx, 'pull', r);
    const m = markers(r.stdout);
    return { head: m.HEAD, previous_head: m.BEFORE, updated: m.HEAD !== m.BEFORE };
  });
}

/** Input of a push. */
export interface PushInput {
  message: string;
  paths?: string[];
  target?: 'agent_branch' | 'base';
  author?: { name: string; email: string };
}

/** Result of a push. */
export interface PushResult {
  commit: string;
  target_branch: string;
  attempts: number;
  lock_wait_ms: number;
  rebased: boolean;
  committed: boolean;
}

/**
 * Stages and commits, then under RepoLock(repo, target) fetches, rebases onto the target's tip and
 * pushes without force; a rejected push retries from the fetch with backoff. Conflicts → 409.
 */
export async function gitPush(ctx: ServiceContext, agentId: string, id: string, input: PushInput): Promise<PushResult> {
  const paths = input.paths?.map(assertRepoPath);
  return withOperation(ctx, agentId, id, 'push', async ({ lease, sbx }, rec) => {
    const target = input.target === 'base' ? lease.branch : lease.agent_branch;
    rec.targetBranch = target;
    const authorEnv: Record<string, string> = input.author
      ? { GIT_AUTHOR_NAME: input.author.name, GIT_AUTHOR_EMAIL: input.author.email }
      : {};
    const c = await run(sbx, commitScript(paths), { envs: { GS_WORKDIR: lease.workdir!, GS_MSG: input.message, ...authorEnv } });
    if (c.exitCode !== 0) throw failed(ctx, 'commit', c);
    const committed = markers(c.stdout).COMMITTED === '1';
    const ns = ctx.env.REPO_LOCK as unknown as DurableObjectNamespace<RepoLock>;
    const lock = ns.get(ns.idFromName(lockName(lease.repo_key, target)));
    const holder = `${lease.id}:${crypto.randomUUID().slice(0, 8)}`;
    const ttlMs = ctx.cfg.LOCK_TTL_S * 1000;
    const got = await lock.acquire(holder, { ttlMs, waitMs: ctx.cfg.LOCK_WAIT_MS, repoUrl: lease.repo_url });
    rec.lockWaitMs = got.waitedMs;
    if (!got.ok) {
      throw new AppError('REPO_LOCKED', `another push to ${target} holds the lock; queue position ${got.position}`, {
        retryAfterS: got.retryAfterS,
        details: { position: got.position, retry_after_s: got.retryAfterS, target_branch: target },
      });
    }
    let rebased = false;
    try {
      const max = 1 + ctx.cfg.PUSH_MAX_RETRIES;
      for (let attempt = 1; attempt <= max; attempt++) {
        rec.attempts = attempt;
        if (attempt > 1) await lock.extend(got.token, ttlMs);
        const r = await run(sbx, landScript(), { envs: netEnv(ctx, lease, { GS_BASE: lease.branch, GS_TARGET: target }), timeoutMs: 120_000 });
        const m = markers(r.stdout);
        if (m.REBASED === '1') rebased = true;
        if (r.exitCode === 0) {
          rec.commitSha = m.COMMIT;
          return { commit: m.COMMIT, target_branch: target, attempts: attempt, lock_wait_ms: got.waitedMs, rebased, committed };
        }
        if (r.exitCode === EXIT.NOTHING) throw new AppError('NOTHING_TO_PUSH', `nothing to push: ${target} already contains HEAD and there were no changes to commit`);
        if (r.exitCode === EXIT.CONFLICT) {
          const conflicts = conflictPaths(r.stdout);
          rec.detail = { conflicts };
          await notifyConflict(ctx, lease, target, conflicts);
          throw conflictError(conflicts, target);
        }
        if (r.exitCode !== EXIT.REJECTED) throw failed(ctx, 'push', r);
        if (attempt < max) await new Promise((res) => setTimeout(res, backoffMs(attempt - 1, 100, 2000, Math.random())));
      }
      throw new AppError('PUSH_REJECTED', `push to ${target} was rejected ${max} times (the branch kept moving); try again`, { retryAfterS: 2 });
    } finally {
      await lock.release(got.token).catch((e) => ctx.log.warn('lock_release_failed', { lease: lease.id, error: String(e) }));
    }
  });
}

function netEnv(ctx: ServiceContext, lease: LeaseRecord, extra: Record<string, string>): Record<string, string> {
  const host = parseRepoUrl(lease.repo_url).host;
  return { GS_WORKDIR: lease.workdir!, ...gitEnv(lease.home!, host, ctx.cfg.GIT_USERNAME, ctx.cfg.GIT_TOKEN), ...extra };
}

function conflictError(paths: string[], onto: string): AppError {
  return new AppError('MERGE_CONFLICT', `rebase onto ${onto} conflicts in ${paths.length} file(s): ${paths.join(', ')}; the rebase was aborted and the tree left as it was`, {
    details: { conflicts: paths },
  });
}

/** Posts a conflict report to CONFLICT_WEBHOOK_URL (best effort, bounded). */
async function notifyConflict(ctx: ServiceContext, lease: LeaseRecord, target: string, paths: string[]): Promise<void> {
  const url = ctx.cfg.CONFLICT_WEBHOOK_URL;
  if (!url) return;
  const body = { event: 'merge_conflict', lease_id: lease.id, agent_id: lease.agent_id, task_id: lease.task_id, repo_url: lease.repo_url, target_branch: target, paths, at: new Date().toISOString() };
  try {
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  } catch (e) {
    ctx.log.warn('conflict_webhook_failed', { lease: lease.id, error: String(e) });
  }
}
