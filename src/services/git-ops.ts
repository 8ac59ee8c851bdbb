// Git operations on a lease: status, diff, pull, push (serialized by RepoLock). Each one records
// a git_operations row and updates the lease row.
import { AppError, isAppError } from '../errors.ts';
import { recordOperation, redactFor, type OperationRecord } from '../db/lease-rows.ts';
import { withDb } from '../db/client.ts';
import { EXIT, conflictPaths, pullScript } from '../git/scripts.ts';
import { q } from '../git/shell.ts';
import { serviceGitEnv, type ServiceGitOptions } from '../git/env.ts';
import { gatewayAuthorization } from '../gateway/credentials.ts';
import { markers, parseNumstatZ, parseStatusV2, type FileStat, type GitStatus } from '../git/status.ts';
import { assertRepoPath } from '../git/validate.ts';
import type { LeaseRecord } from '../pool/types.ts';
import { run } from '../sandbox/provider.ts';
import { countGitOp } from '../metrics/events.ts';
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
  const open = await openLease(ctx, agentId, id, op);
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
    // Services only append history (the lease row has one writer, the PoolCoordinator), after the
    // answer and on their own connection, so a slow or frozen database never delays an operation.
    const row = { leaseId: id, agentId, repoUrl: open.lease.repo_url, op, startedAt: started, durationMs, result, error, ...rec };
    ctx.waitUntil(
      withDb(ctx.env, (db) => recordOperation(ctx.env, db, row)).catch((e) => {
        ctx.log.warn('operation_record_failed', { op, lease: id, error: String(e instanceof Error && e.cause ? e.cause : e) });
      }),
    );
    countGitOp(ctx.metrics, op, result, durationMs, rec.attempts);
    ctx.log.info('git_op', { op, lease: id, agent: agentId, result, duration_ms: durationMs, attempts: rec.attempts, lock_wait_ms: rec.lockWaitMs });
  }
}

/** A GIT_FAILED error with the redacted tail of stderr. */
export function failed(ctx: ServiceContext, what: string, r: { exitCode: number; stderr: string }): AppError {
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
    return { diff, files: parseNumstatZ(numstat), truncated };
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
    const r = await run(sbx, pullScript(), { envs: await netEnv(ctx, lease, { GS_BASE: lease.branch }), timeoutMs: 120_000 });
    if (r.exitCode === EXIT.CONFLICT) throw conflictError(conflictPaths(r.stdout), lease.branch);
    if (r.exitCode !== 0) throw failed(ctx, 'pull', r);
    const m = markers(r.stdout);
    return { head: m.HEAD, previous_head: m.BEFORE, updated: m.HEAD !== m.BEFORE };
  });
}

/** Env for a service git command on the lease: workdir, the hardened git env with the lease's gateway credential, extras. */
export async function netEnv(ctx: ServiceContext, lease: LeaseRecord, extra: Record<string, string>, o: Omit<ServiceGitOptions, 'authorization'> = {}): Promise<Record<string, string>> {
  const authorization = await gatewayAuthorization(ctx.cfg.ERROR_ENCRYPTION_KEY, lease.id);
  return { GS_WORKDIR: lease.workdir!, ...serviceGitEnv({ ...o, authorization }), ...extra };
}

/** The 409 for a rebase conflict. */
export function conflictError(paths: string[], onto: string): AppError {
  return new AppError('MERGE_CONFLICT', `rebase onto ${onto} conflicts in ${paths.length} file(s): ${paths.join(', ')}; the rebase was aborted and the tree left as it was`, {
    details: { conflicts: paths },
  });
}

/** Posts a conflict report to CONFLICT_WEBHOOK_URL (best effort, bounded). */
export async function notifyConflict(ctx: ServiceContext, lease: LeaseRecord, target: string, paths: string[]): Promise<void> {
  const url = ctx.cfg.CONFLICT_WEBHOOK_URL;
  if (!url) return;
  const body = { event: 'merge_conflict', lease_id: lease.id, agent_id: lease.agent_id, task_id: lease.task_id, repo_url: lease.repo_url, target_branch: target, paths, at: new Date().toISOString() };
  try {
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  } catch (e) {
    ctx.log.warn('conflict_webhook_failed', { lease: lease.id, error: String(e) });
  }
}
