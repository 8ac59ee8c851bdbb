// Push: commit, then land. To the agent's own branch: under RepoLock, fetch + rebase + a
// compare-and-swap push. To the base branch: batched landing, where each pusher parks its commits
// on a queue ref and the lock holder lands every queued entry (each by its strategy: rebase, merge
// or squash) with one atomic push. To a pull request: the agent-branch push, then a pull request
// opened or updated on GitHub (src/services/pull-requests.ts).
import { PushResult, type LandingStrategy, type PullRequestOptions } from '../contract.ts';
import { AppError } from '../errors.ts';
import { parseCommit, splitChain, type ScriptRun, parseDropQueueRef, parseFetchBase, parseLand, parseLandBatch, parseListQueueRefs, parseQueue, parseSweepQueueRefs, parseSyncLanded } from '../git/script-results.ts';
import { commitScript, dropQueueRefScript, fetchBaseScript, landBatchScript, landScript, listQueueRefsScript, queueScript, sweepQueueRefsScript, syncLandedScript } from '../git/scripts.ts';
import { assertRepoPath } from '../git/validate.ts';
import { chainScripts } from '../git/assemble.ts';
import type { OperationRecord } from '../db/lease-rows.ts';
import { LockClient, type ClaimedEntry, type LockAcquireResult, type LockEntry } from '../lock/client.ts';
import { backoffMs, leaseOfQueueRef } from '../lock/rules.ts';
import type { LeaseRecord } from '../pool/types.ts';
import { run, type Sandbox } from '../sandbox/provider.ts';
import type { ServiceContext } from './context.ts';
import { conflictError, failed, netEnv, notifyConflict, withOperation } from './git-ops.ts';
import { discardLander, ensureLander, type Lander } from './lander.ts';
import { repoPool } from './context.ts';
import { activeLeaseIds } from './pools.ts';
import { serviceGitEnv } from '../git/env.ts';
import { proposePullRequest } from './pull-requests.ts';
import { StepClock } from './step-clock.ts';

/** Most entries one holder lands in a batch. */
const BATCH_MAX = 50;

/** Input of a push. */
export interface PushInput {
  message: string;
  paths?: string[];
  target?: 'agent_branch' | 'base' | 'pull_request';
  /** How a push to the base lands (and a pull request's auto-merge method); default rebase. */
  strategy?: LandingStrategy;
  /** Options of target pull_request. */
  pull_request?: PullRequestOptions;
  author?: { name: string; email: string };
  /** Idempotency-Key of the request: a replay gets the first answer. */
  idemKey?: string;
}


type Rec = Partial<OperationRecord>;

function lockFor(ctx: ServiceContext, lease: LeaseRecord, branch: string): LockClient {
  return LockClient.of(ctx.env.REPO_LOCK, { id: lease.id, agentId: lease.agent_id, repoKey: lease.repo_key, repoUrl: lease.repo_url }, branch);
}

function locked(target: string, got: Extract<LockAcquireResult, { reason: 'timeout' }>): AppError {
  return new AppError('REPO_LOCKED', `another push to ${target} holds the lock; queue position ${got.position}`, {
    retryAfterS: got.retryAfterS,
    details: { position: got.position, retry_after_s: got.retryAfterS, target_branch: target },
  });
}

/** Stages and commits, then lands on the agent branch, (batched, by strategy) on the base branch, or on the agent branch with a pull request. */
export async function gitPush(ctx: ServiceContext, agentId: string, id: string, input: PushInput): Promise<PushResult> {
  const paths = input.paths?.map(assertRepoPath);
  const strategy = input.strategy ?? 'rebase';
  if (input.target !== 'base' && input.target !== 'pull_request' && strategy !== 'rebase') {
    throw new AppError('BAD_REQUEST', `strategy: "${strategy}" applies to target "base" or "pull_request"; the agent branch is always rebased`, { details: { field: 'strategy' } });
  }
  if (input.pull_request && input.target !== 'pull_request') {
    throw new AppError('BAD_REQUEST', 'pull_request: options apply to target "pull_request" only', { details: { field: 'pull_request' } });
  }
  const clock = new StepClock();
  return withOperation(ctx, agentId, id, 'push', async ({ lease, sbx }, rec) => {
    clock.mark('open');
    try {
      return await pushOnLease(ctx, lease, sbx, rec, input, paths, strategy, clock);
    } finally {
      const steps = clock.snapshot();
      // Kept with the operation's history row too, so a benchmark reads the breakdown from Postgres.
      rec.detail = { ...rec.detail, steps };
      ctx.log.info('push_steps', { lease: lease.id, target: input.target ?? 'agent_branch', ...steps });
    }
  });
}

/** The push on an open lease: commit, then land on the target. */
async function pushOnLease(ctx: ServiceContext, lease: LeaseRecord, sbx: Sandbox, rec: Rec, input: PushInput, paths: string[] | undefined, strategy: LandingStrategy, clock: StepClock): Promise<PushResult> {
  const target = input.target === 'base' ? lease.branch : lease.agent_branch;
  rec.targetBranch = target;
  const lock = lockFor(ctx, lease, target);
  const idemKey = input.idemKey;
  // A replayed push (same Idempotency-Key) gets the first answer, whatever died in between.
  if (idemKey) {
    // The remembered answer is JSON read back from storage: parsed like any other trust edge.
    const prior = PushResult.nullable().parse(await lock.recall(idemKey));
    if (prior) return prior;
  }
  const entryId = await lock.newEntryId(idemKey);
  let result: PushResult;
  if (input.target === 'base' && idemKey && (await lock.entry(entryId))) {
    // The first attempt queued its entry already: wait for (or read) that entry's fate.
    result = await awaitEntry(ctx, lease, sbx, rec, lock, entryId, false, clock);
  } else {
    const authorEnv: Record<string, string> = input.author ? { GIT_AUTHOR_NAME: input.author.name, GIT_AUTHOR_EMAIL: input.author.email } : {};
    const commitEnv = { GS_MSG: input.message, GS_PATHS: (paths ?? []).join('\n'), ...authorEnv };
    if (input.target === 'base') {
      // Commit and park HEAD on the entry's queue ref in one sandbox command.
      const both = await run(sbx, chainScripts(commitScript(), queueScript()), { envs: { ...(await netEnv(ctx, lease, { GS_BASE: target, GS_ENTRY: entryId })), ...commitEnv }, timeoutMs: 120_000 });
      clock.mark('commit_queue');
      const [c, q] = splitChain(both);
      const commit = parseCommit(c);
      if (commit.kind !== 'ok' || !q) throw failed(ctx, 'commit', c);
      result = await landOnBase(ctx, lease, sbx, rec, lock, entryId, commit.committed, strategy, clock, q);
    } else {
      const c = await run(sbx, commitScript(), { envs: { GS_WORKDIR: lease.workdir!, ...commitEnv, ...serviceGitEnv() } });
      clock.mark('commit');
      const commit = parseCommit(c);
      if (commit.kind !== 'ok') throw failed(ctx, 'commit', c);
      const committed = commit.committed;
      if (input.target === 'pull_request') {
        // The branch is pushed (or already holds HEAD), then the pull request opened or updated.
        result = await landOnAgentBranch(ctx, lease, sbx, rec, lock, committed, commit.head);
        const pr = await proposePullRequest(ctx, lease, { message: input.message, strategy, options: input.pull_request ?? {} });
        rec.detail = { pull_request: pr.number, state: pr.state, auto_merge: pr.auto_merge };
        result = { ...result, strategy, pull_request: pr };
      } else result = await landOnAgentBranch(ctx, lease, sbx, rec, lock, committed);
    }
  }
  if (input.target === 'base') result = { ...result, strategy };
  if (idemKey) await lock.remember(idemKey, result);
  return result;
}

/**
 * The agent branch has one writer: lock, fetch + rebase onto its tip, push with a lease (CAS). With
 * `head` (a pull request's push) a branch that already holds HEAD is not an error: HEAD is answered.
 */
async function landOnAgentBranch(ctx: ServiceContext, lease: LeaseRecord, sbx: Sandbox, rec: Rec, lock: LockClient, committed: boolean, head?: string): Promise<PushResult> {
  const target = lease.agent_branch;
  const ttlMs = ctx.cfg.LOCK_TTL_S * 1000;
  const got = await lock.acquire({ ttlMs, waitMs: ctx.cfg.LOCK_WAIT_MS });
  rec.lockWaitMs = got.waitedMs;
  // Without an entry the wait can only end in a grant or a timeout.
  if (!got.ok) throw got.reason === 'timeout' ? locked(target, got) : new AppError('INTERNAL', 'unexpected lock answer');
  let rebased = false;
  try {
    const [commit, attempts] = await untilLanded(ctx, lock, got.token, target, async (attempt) => {
      rec.attempts = attempt;
      const r = await run(sbx, landScript(), { envs: await netEnv(ctx, lease, { GS_BASE: lease.branch, GS_TARGET: target }), timeoutMs: 120_000 });
      const out = parseLand(r);
      switch (out.kind) {
        case 'landed':
          rebased ||= out.rebased;
          return out.commit;
        case 'rejected':
          rebased ||= out.rebased;
          return REJECTED;
        case 'nothing':
          if (head) return head;
          throw nothingToPush(target);
        case 'conflict':
          rec.detail = { conflicts: out.paths };
          await notifyConflict(ctx, lease, target, out.paths);
          throw conflictError(out.paths, target);
        default:
          throw failed(ctx, 'push', r);
      }
    });
    rec.commitSha = commit;
    return { commit, target_branch: target, attempts, lock_wait_ms: got.waitedMs, rebased, committed, batch_size: 1 };
  } finally {
    await lock.release(got.token).catch((e) => ctx.log.warn('lock_release_failed', { lease: lease.id, error: String(e) }));
  }
}

/**
 * The base branch has many writers: with HEAD parked on its queue ref (queue.sh's run `r`), enqueue,
 * then wait for the entry's fate (see awaitEntry). The lease's branch then moves to the landed commit.
 */
async function landOnBase(ctx: ServiceContext, lease: LeaseRecord, sbx: Sandbox, rec: Rec, lock: LockClient, entryId: string, committed: boolean, strategy: LandingStrategy, clock: StepClock, r: ScriptRun): Promise<PushResult> {
  const target = lease.branch;
  const q = parseQueue(r);
  if (q.kind === 'nothing') throw nothingToPush(target);
  if (q.kind !== 'queued') throw failed(ctx, 'push', r);
  await lock.enqueue(entryId, { strategy, headBranch: lease.agent_branch });
  clock.mark('enqueue');
  return awaitEntry(ctx, lease, sbx, rec, lock, entryId, committed, clock, q.head);
}

/** Failures after which the base may or may not have moved: the entry's fate is found out, not guessed. */
function ambiguous(e: unknown): boolean {
  return !(e instanceof AppError) || e.code === 'SANDBOX_UNAVAILABLE' || e.code === 'GIT_FAILED' || e.code === 'INTERNAL';
}

/**
 * Takes the lock; whoever holds it lands every pending entry (its own and the ones queued behind it)
 * in one batch; an entry already settled by another holder just reads its record. The answer is
 * read from the entry's record in RepoLock, so a commit that landed is reported landed whatever
 * died after the remote moved: after an ambiguous failure the entry goes back to the queue and the
 * next landing finds it on the base by its trailer.
 */
async function awaitEntry(ctx: ServiceContext, lease: LeaseRecord, sbx: Sandbox, rec: Rec, lock: LockClient, entryId: string, committed: boolean, clock: StepClock, queuedHead?: string): Promise<PushResult> {
  const target = lease.branch;
  const ttlMs = ctx.cfg.LOCK_TTL_S * 1000;
  const t0 = Date.now();
  let attempts = 1;
  let retries = 0;
  let entry: LockEntry | null = null;
  for (;;) {
    const got = await lock.acquire({ ttlMs, waitMs: ctx.cfg.LOCK_WAIT_MS, entryId });
    clock.mark(got.ok ? 'lock_wait' : 'wait_for_other');
    if (got.ok) {
      const beat = lock.heartbeat(got.token, ttlMs);
      try {
        attempts = await landBatch(ctx, lease, lock, got.token, clock);
      } catch (e) {
        ctx.log.warn('landing_failed', { lease: lease.id, entry: entryId, ambiguous: ambiguous(e), error: e instanceof Error ? e.message : String(e) });
        // Certain failures withdraw this caller's entry (nothing of it landed); others are retried.
        if (!ambiguous(e) || ++retries > 3) {
          if (await lock.cancel(entryId)) {
            await dropQueueRef(ctx, lease, sbx, entryId);
            throw e;
          }
        }
      } finally {
        beat.stop();
        await lock.release(got.token).catch((e) => ctx.log.warn('lock_release_failed', { lease: lease.id, error: String(e) }));
        clock.mark('release');
      }
    } else if (got.reason === 'timeout' && (await lock.cancel(entryId))) {
      // Nobody had picked the entry up yet, so it is withdrawn; otherwise a lander has it: wait on.
      rec.lockWaitMs = Date.now() - t0;
      await dropQueueRef(ctx, lease, sbx, entryId);
      throw locked(target, got);
    }
    // Settled by us or another holder, or still queued (a batch holds at most BATCH_MAX entries).
    entry = await lock.entry(entryId);
    clock.mark('entry_read');
    if (entry && entry.status !== 'pending' && entry.status !== 'claimed') break;
  }
  rec.lockWaitMs = Date.now() - t0;
  rec.attempts = attempts;
  if (entry.status === 'conflict') {
    rec.detail = { conflicts: entry.conflicts };
    // The agent resolves against the tip that conflicted: its origin/<base> is brought up to date.
    const f = await run(sbx, fetchBaseScript(), { envs: await netEnv(ctx, lease, { GS_BASE: target }) }).catch(() => null);
    if (!f || parseFetchBase(f).kind !== 'ok') ctx.log.warn('post_conflict_fetch_failed', { lease: lease.id });
    await notifyConflict(ctx, lease, target, entry.conflicts);
    throw conflictError(entry.conflicts, target);
  }
  if (entry.status === 'failed') throw new AppError('GIT_FAILED', `the queued commits were refused by the lander: they share no history with ${target}, or their change would not land unchanged; pull and push again`);
  if (entry.status !== 'landed' || !entry.commit_sha) throw new AppError('GIT_FAILED', `the queued commits could not be landed (${entry.status}); push again`);
  // The landing's bundle brings the landed objects without a fetch through the gateway.
  const sync = await run(sbx, syncLandedScript(), { envs: await netEnv(ctx, lease, { GS_BASE: target, GS_COMMIT: entry.commit_sha, GS_BUNDLE: entry.bundle ?? '' }) });
  clock.mark('sync');
  if (parseSyncLanded(sync).kind !== 'ok') ctx.log.warn('post_land_sync_failed', { lease: lease.id, stderr: sync.stderr.slice(-300) });
  rec.commitSha = entry.commit_sha;
  rec.detail = { batch_size: entry.batch_size };
  return {
    commit: entry.commit_sha,
    target_branch: target,
    attempts,
    lock_wait_ms: rec.lockWaitMs,
    rebased: entry.commit_sha !== queuedHead,
    committed,
    batch_size: entry.batch_size ?? 1,
  };
}

/** Lands every pending entry as the lock holder, in the repo's lander sandbox; returns the attempts it took. */
async function landBatch(ctx: ServiceContext, lease: LeaseRecord, lock: LockClient, token: number, clock: StepClock): Promise<number> {
  const { entries, lander: known } = await lock.claimBatch(token, BATCH_MAX);
  clock.mark('claim');
  if (!entries.length) return 1;
  let lander: Lander | null = null;
  try {
    lander = await ensureLander(ctx, lock, token, { url: lease.repo_url, key: lease.repo_key }, lease.branch, known);
    const l = lander;
    clock.mark('lander');
    const envs = await netEnv(ctx, l.lease, { GS_BASE: lease.branch, GS_FENCE: String(token), GS_ENTRIES: entries.map(entryLine).join('\n') }, { fence: token });
    let bundle: string | null = null;
    const [out, attempts] = await untilLanded(ctx, lock, token, lease.branch, async () => {
      const r = await run(l.sbx, landBatchScript(), { envs, timeoutMs: 120_000 });
      clock.mark('land_script');
      for (const [k, v] of Object.entries(landSteps(r.stderr))) clock.add(`in_${k}`, v);
      const landed = parseLandBatch(r);
      if (landed.kind === 'ok') {
        bundle = landed.bundle;
        return landed.outcomes;
      }
      if (landed.kind === 'fenced') throw new AppError('GIT_FAILED', 'the repo lock expired while landing; push again', { retryAfterS: 1 });
      if (landed.kind !== 'rejected') throw failed(ctx, 'push', r);
      return REJECTED;
    });
    const results = entries.map(({ id }) => ({ id, ...(out.get(id) ?? { status: 'missing' as const, conflicts: [] }) }));
    if (!(await lock.complete(token, results, bundle))) throw new AppError('GIT_FAILED', 'the repo lock expired while landing; push again');
    clock.mark('complete');
    clock.add('batch_size', entries.length);
    // The service knows the tip it just landed: idle clones of this repo catch up in the background.
    const tip = results.filter((r) => r.status === 'landed' && r.commit).at(-1)?.commit;
    // After the answer, outside the lock's critical section.
    if (tip) ctx.waitUntil(repoPool(ctx.env, lease.repo_key).noteTip(lease.repo_key, lease.branch, lease.repo_url, tip).catch(() => undefined));
    if (await lock.sweepDue(token, SWEEP_EVERY_MS)) await sweepQueueRefs(ctx, lock, l, envs).catch((e) => ctx.log.warn('queue_sweep_failed', { error: String(e) }));
    clock.mark('after_landing');
    return attempts;
  } catch (e) {
    if (lander && e instanceof AppError && e.code === 'SANDBOX_UNAVAILABLE') await discardLander(ctx, lock, token, lander).catch(() => undefined);
    // The batch goes back to the queue: the next holder lands it, or finds it already landed.
    await lock.unclaim(token);
    throw e;
  }
}

/** The phase timings land-batch.sh prints on stderr (`__GS_STEPS=fetch:12 land:80 push:40`). */
function landSteps(stderr: string): Record<string, number> {
  const m = /^__GS_STEPS=(.*)$/m.exec(stderr);
  const out: Record<string, number> = {};
  for (const kv of m?.[1].split(' ') ?? []) {
    const [k, v] = kv.split(':');
    if (k && /^\d+$/.test(v ?? '')) out[k] = Number(v);
  }
  return out;
}

/** An entry as land-batch.sh reads it: `<id> <agent> <strategy> [<agent branch>]` (ids and branch names hold no whitespace). */
function entryLine(e: ClaimedEntry): string {
  return `${e.id} ${e.agentId || '-'} ${e.strategy}${e.headBranch ? ` ${e.headBranch}` : ''}`;
}

/** How often a lander sweeps orphan queue refs (of pushes that died before they were queued). */
const SWEEP_EVERY_MS = 10 * 60_000;

/**
 * Deletes queue refs that no landing will ever consume: their entry is not waiting in RepoLock and
 * the lease that parked them has ended (an active lease's ref may be a push in flight).
 */
async function sweepQueueRefs(ctx: ServiceContext, lock: LockClient, lander: Lander, envs: Record<string, string>): Promise<void> {
  const ls = parseListQueueRefs(await run(lander.sbx, listQueueRefsScript(), { envs }));
  if (ls.kind !== 'ok' || !ls.entryIds.length) return;
  const ids = ls.entryIds;
  const live = new Set(await lock.liveEntries(ids));
  const active = new Set(await activeLeaseIds(ctx.env, [...new Set(ids.map(leaseOfQueueRef))]));
  const stale = ids.filter((id) => !live.has(id) && !active.has(leaseOfQueueRef(id)));
  if (!stale.length) return;
  const r = await run(lander.sbx, sweepQueueRefsScript(), { envs: { ...envs, GS_ENTRIES: stale.slice(0, 200).join('\n') } });
  ctx.log.info('queue_refs_swept', { count: stale.length, ok: parseSweepQueueRefs(r).kind === 'ok' });
}

/** Deletes a withdrawn entry's queue ref from the remote (best effort; a leftover ref is only clutter). */
async function dropQueueRef(ctx: ServiceContext, lease: LeaseRecord, sbx: Sandbox, entryId: string): Promise<void> {
  const r = await run(sbx, dropQueueRefScript(), { envs: await netEnv(ctx, lease, { GS_ENTRY: entryId }) }).catch(() => null);
  if (!r || parseDropQueueRef(r).kind !== 'ok') ctx.log.warn('queue_ref_cleanup_failed', { lease: lease.id, entry: entryId });
}

const REJECTED = Symbol('rejected');

/**
 * Runs a landing attempt until git stops reporting that the ref moved, at most 1 + PUSH_MAX_RETRIES
 * times, with backoff + jitter between attempts and the lock extended before each retry.
 */
async function untilLanded<T>(ctx: ServiceContext, lock: LockClient, token: number, target: string, tryOnce: (attempt: number) => Promise<T | typeof REJECTED>): Promise<[T, number]> {
  const max = 1 + ctx.cfg.PUSH_MAX_RETRIES;
  for (let attempt = 1; attempt <= max; attempt++) {
    if (attempt > 1) await lock.extend(token, ctx.cfg.LOCK_TTL_S * 1000);
    const out = await tryOnce(attempt);
    if (out !== REJECTED) return [out, attempt];
    if (attempt < max) await sleep(backoffMs(attempt - 1, 100, 2000, Math.random()));
  }
  throw new AppError('PUSH_REJECTED', `push to ${target} was rejected ${max} times (the branch kept moving); try again`, { retryAfterS: 2 });
}

function nothingToPush(target: string): AppError {
  return new AppError('NOTHING_TO_PUSH', `nothing to push: ${target} already contains HEAD and there were no changes to commit`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
