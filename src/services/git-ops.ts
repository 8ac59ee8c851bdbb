// Git operations on a lease: status, diff, pull, push (serialized by RepoLock). Each one records
// a git_operations row and updates the lease row.
import type { Diff, PullResult, Status } from '../contract.ts';
import { AppError, isAppError } from '../errors.ts';
import { recordOperation, redactFor, type OperationRecord } from '../db/lease-rows.ts';
import { withDb } from '../db/client.ts';
import { markers, parsePull } from '../git/script-results.ts';
import { pullScript } from '../git/scripts.ts';
import { q } from '../git/shell.ts';
import { serviceGitEnv, type ServiceGitOptions } from '../git/env.ts';
import { gatewayAuthorization, leasePrincipal } from '../gateway/credentials.ts';
import { parseNumstatZ, parseStatusV2, wholeRecords } from '../git/status.ts';
import { assertRepoPath } from '../git/validate.ts';
import { assertDiffRef } from '../git/revision.ts';
import type { LeaseRecord } from '../pool/types.ts';
import { byteLength, cutUtf8, runBounded } from '../sandbox/bounded-run.ts';
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

/** Runs `cmd` (its stdout already capped with `head -c`) with output bounded for the Worker too. */
async function runCapped(sbx: OpenLease['sbx'], workdir: string, cmd: string, cap: number) {
  // Hooks, fsmonitor and external diff/textconv drivers off: the repo's config is the tenant's.
  return runBounded(sbx, cmd, { cwd: workdir, envs: serviceGitEnv(), maxChars: cap + 65_536, timeoutMs: 60_000 });
}

/** stderr without the exit-status marker line. */
const stderrOf = (r: { stderr: string }) => r.stderr.replace(/^__GS_RC=.*\n?/m, '');

/** Parsed `git status` of the lease's repo, cut in the sandbox at MAX_OUTPUT_BYTES (`truncated`). */
export async function gitStatus(ctx: ServiceContext, agentId: string, id: string): Promise<Status> {
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  return withOperation(ctx, agentId, id, 'status', async ({ lease, sbx }) => {
    const cmd = `{ git status --porcelain=v2 --branch -z --untracked-files=all; echo "__GS_RC=$?" >&2; } | head -c ${cap + 1}`;
    const r = await runCapped(sbx, lease.workdir!, cmd, cap);
    const truncated = r.overflow || byteLength(r.stdout) > cap;
    // A cut pipe ends git with SIGPIPE (141); only an uncut run's exit status counts.
    const rc = Number(markers(r.stderr).RC ?? r.exitCode);
    if (!truncated && (r.exitCode !== 0 || rc !== 0)) throw failed(ctx, 'git status', { exitCode: rc || r.exitCode, stderr: stderrOf(r) });
    return parseStatusV2(truncated ? cutUtf8(r.stdout, cap) : r.stdout, truncated);
  });
}

/** Options of a diff. */
export interface DiffOptions {
  against: 'head' | 'index' | 'base';
  path?: string;
  maxBytes: number;
  /** A revision to diff the working tree (head) or the index against instead, or a range of two commits. */
  ref?: string;
}


/** Unified diff + numstat against HEAD, the index, origin/<base> or a given ref; each cut in the sandbox (numstat at MAX_OUTPUT_BYTES, the diff also at max_bytes). */
export async function gitDiff(ctx: ServiceContext, agentId: string, id: string, o: DiffOptions): Promise<Diff> {
  const path = o.path ? assertRepoPath(o.path) : undefined;
  const ref = o.ref ? assertDiffRef(o.ref, o.against) : undefined;
  const statCap = ctx.cfg.MAX_OUTPUT_BYTES;
  const diffCap = Math.min(o.maxBytes, ctx.cfg.MAX_OUTPUT_BYTES);
  return withOperation(ctx, agentId, id, 'diff', async ({ lease, sbx }) => {
    const against = o.against === 'head' ? 'HEAD' : o.against === 'index' ? '--cached' : q(`origin/${lease.branch}`);
    const rev = ref ? `${o.against === 'index' ? '--cached ' : ''}--end-of-options ${q(ref)}` : against;
    const check = ref ? `git rev-list --max-count=0 --end-of-options ${q(ref)} -- >/dev/null 2>&1 || { echo "__GS_BADREF=1" >&2; exit 1; }; ` : '';
    const spec = `--no-ext-diff --no-textconv ${rev}${path ? ` -- ${q(path)}` : ''}`;
    // A split line no file name can forge: the tenant cannot guess it.
    const split = `\n__GS_SPLIT_${crypto.randomUUID()}__\n`;
    const cmd = `${check}{ git diff --numstat -z ${spec}; echo "__GS_RC=$?" >&2; } | head -c ${statCap + 1}; printf '%s' ${q(split)}; git diff ${spec} | head -c ${diffCap + 1}`;
    const r = await runCapped(sbx, lease.workdir!, cmd, statCap + diffCap);
    const at = r.stdout.indexOf(split);
    const numstat = at < 0 ? r.stdout : r.stdout.slice(0, at);
    const raw = at < 0 ? '' : r.stdout.slice(at + split.length);
    const statCut = byteLength(numstat) > statCap;
    if (markers(r.stderr).BADREF) throw new AppError('INVALID_REF', `ref "${ref}" names no commit in the repository`, { details: { field: 'ref' } });
    const rc = Number(markers(r.stderr).RC ?? r.exitCode);
    if (!r.overflow && !statCut && rc !== 0) throw failed(ctx, 'git diff', { exitCode: rc, stderr: stderrOf(r) });
    const diffCut = byteLength(raw) > diffCap;
    const files = parseNumstatZ(statCut || r.overflow ? wholeRecords(cutUtf8(numstat, statCap), true) : numstat);
    return { diff: diffCut ? cutUtf8(raw, diffCap) : raw, files, truncated: r.overflow || statCut || diffCut };
  });
}


/** Fetches and rebases the lease's branch onto origin/<base> (autostash); conflicts abort cleanly. */
export async function gitPull(ctx: ServiceContext, agentId: string, id: string): Promise<PullResult> {
  return withOperation(ctx, agentId, id, 'pull', async ({ lease, sbx }) => {
    const r = await run(sbx, pullScript(), { envs: await netEnv(ctx, lease, { GS_BASE: lease.branch }), timeoutMs: 120_000 });
    const out = parsePull(r);
    if (out.kind === 'conflict') throw conflictError(out.paths, lease.branch);
    if (out.kind !== 'ok') throw failed(ctx, 'pull', r);
    return { head: out.head, previous_head: out.before, updated: out.head !== out.before };
  });
}

/** Env for a service git command on the lease: workdir, the hardened git env with the lease's gateway credential, extras. */
export async function netEnv(ctx: ServiceContext, lease: LeaseRecord, extra: Record<string, string>, o: Omit<ServiceGitOptions, 'authorization'> = {}): Promise<Record<string, string>> {
  const authorization = await gatewayAuthorization(ctx.cfg.ERROR_ENCRYPTION_KEY, leasePrincipal(lease.id));
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
