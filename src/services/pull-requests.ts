// Pull requests of agent branches: after a push with target "pull_request" one is opened (or the
// open one updated) from the lease's agent branch into its base, optionally with auto-merge, and
// recorded in Postgres per lease; its state is then followed to merged or closed by polling GitHub
// on read (at most every REFRESH_AFTER_MS) and from the cleanup cron, also after the lease ended.
import type { LandingStrategy, PullRequest, PullRequestOptions } from '../contract.ts';
import { pullRequestOf, openPullRequestsDue, updatePullRequest, upsertPullRequest, type PullRequestRow } from '../db/pull-request-rows.ts';
import { AppError } from '../errors.ts';
import { githubClient } from '../github/client.ts';
import { createPull, enableAutoMerge, findOpenPull, getPull, updatePull, type PullState } from '../github/pulls.ts';
import { parseRepoUrl } from '../git/validate.ts';
import type { LeaseRecord } from '../pool/types.ts';
import type { ServiceContext } from './context.ts';

/** A stored open pull request older than this is read again from GitHub before it is answered. */
const REFRESH_AFTER_MS = 10_000;

/** The cron refreshes open pull requests not read for this long. */
const POLL_AFTER_MS = 5 * 60_000;

/** What a push asks of its pull request. */
export interface ProposeInput {
  message: string;
  strategy: LandingStrategy;
  options: PullRequestOptions;
}

/** A pull request title from a commit message: its first line, at most 256 characters. */
export function titleOf(message: string): string {
  return (message.split('\n')[0]?.trim() || 'Changes from git-sandbox').slice(0, 256);
}

/**
 * Opens a pull request from the lease's agent branch (already pushed) into its base, or updates the
 * open one (title and body only when given); with `auto_merge`, asks GitHub to merge it by the
 * push's strategy once its requirements pass. Recorded for the lease, best effort.
 */
export async function proposePullRequest(ctx: ServiceContext, lease: LeaseRecord, input: ProposeInput): Promise<PullRequest> {
  const gh = await githubClient(ctx.cfg, parseRepoUrl(lease.repo_url));
  const head = lease.agent_branch;
  const base = lease.branch;
  const o = input.options;
  let pull = await findOpenPull(gh, head, base);
  let created = false;
  if (!pull) {
    const made = await createPull(gh, { head, base, title: o.title ?? titleOf(input.message), body: o.body, draft: o.draft });
    if (made.kind === 'no_commits' || made.kind === 'no_head') throw new AppError('NOTHING_TO_PUSH', `nothing to propose: ${head} has no commits that ${base} lacks`);
    // 'exists': a concurrent push of the same branch opened it first; this one updates it.
    pull = made.kind === 'created' ? made.pull : await findOpenPull(gh, head, base);
    created = made.kind === 'created';
    if (!pull) throw new AppError('PROVIDER_ERROR', `GitHub reported an open pull request from ${head} into ${base} but did not list it; push again`, { retryAfterS: 2 });
  }
  if (!created && (o.title !== undefined || o.body !== undefined)) pull = await updatePull(gh, pull.number, { title: o.title, body: o.body });
  let note: string | undefined;
  if (o.auto_merge && pull.state === 'open') {
    const r = await enableAutoMerge(gh, pull, input.strategy);
    if (r.kind === 'refused') note = `auto-merge was not enabled: ${r.message || 'GitHub refused it'}`;
    pull = (await getPull(gh, pull.number)) ?? pull;
  }
  const now = new Date();
  const row = { leaseId: lease.id, agentId: lease.agent_id, repoUrl: lease.repo_url, ...fields(pull), checkedAt: now };
  try {
    await upsertPullRequest(ctx.db(), row);
  } catch (e) {
    // The pull request exists upstream whatever happened here; the next push or poll records it.
    ctx.log.warn('pull_request_record_failed', { lease: lease.id, number: pull.number, error: String(e instanceof Error && e.cause ? e.cause : e) });
  }
  ctx.log.info('pull_request_proposed', { lease: lease.id, number: pull.number, state: pull.state, created, auto_merge: pull.autoMerge });
  return { ...view({ ...row, number: pull.number }), ...(note && { note }) };
}

/** The pull request of the caller's lease (also after the lease ended), read again from GitHub when stale and still open. */
export async function pullRequestStatus(ctx: ServiceContext, agentId: string, leaseId: string): Promise<PullRequest> {
  let row = await pullRequestOf(ctx.db(), leaseId, agentId);
  if (!row) throw new AppError('NOT_FOUND', `lease ${leaseId} has no pull request (push with target "pull_request" to open one)`);
  if (row.state === 'open' && Date.now() - row.checkedAt.getTime() > REFRESH_AFTER_MS) {
    try {
      row = await refresh(ctx, row);
    } catch (e) {
      // GitHub unreachable or refusing: the last known state is answered, with its checked_at.
      ctx.log.warn('pull_request_refresh_failed', { lease: leaseId, number: row.number, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return view(row);
}

/** Reads up to `limit` open pull requests not read lately again from GitHub (the cron's poll); returns how many changed state. */
export async function pollPullRequests(ctx: ServiceContext, limit = 50): Promise<number> {
  const due = await openPullRequestsDue(ctx.db(), new Date(Date.now() - POLL_AFTER_MS), limit);
  let changed = 0;
  for (const row of due) {
    try {
      if ((await refresh(ctx, row)).state !== row.state) changed++;
    } catch (e) {
      ctx.log.warn('pull_request_refresh_failed', { lease: row.leaseId, number: row.number, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return changed;
}

/** Reads row's pull request from GitHub and stores what it found (gone upstream counts as closed). */
async function refresh(ctx: ServiceContext, row: PullRequestRow): Promise<PullRequestRow> {
  const gh = await githubClient(ctx.cfg, parseRepoUrl(row.repoUrl));
  const pull = await getPull(gh, row.number);
  const next = pull ? fields(pull) : { state: 'closed' as const, draft: row.draft, autoMerge: false, headSha: row.headSha, mergeCommitSha: null };
  const updated = await updatePullRequest(ctx.db(), row.id, { state: next.state, draft: next.draft, autoMerge: next.autoMerge, headSha: next.headSha, mergeCommitSha: next.mergeCommitSha, checkedAt: new Date() });
  if (updated && updated.state !== row.state) ctx.log.info('pull_request_state', { lease: row.leaseId, number: row.number, from: row.state, to: updated.state });
  return updated ?? row;
}

/** The stored fields of a pull request read from GitHub. */
function fields(p: PullState): Pick<PullRequestRow, 'number' | 'url' | 'state' | 'draft' | 'autoMerge' | 'headBranch' | 'baseBranch' | 'headSha' | 'mergeCommitSha'> {
  return { number: p.number, url: p.url, state: p.state, draft: p.draft, autoMerge: p.autoMerge, headBranch: p.headBranch, baseBranch: p.baseBranch, headSha: p.headSha, mergeCommitSha: p.mergeCommitSha };
}

function view(r: Pick<PullRequestRow, 'number' | 'url' | 'state' | 'draft' | 'autoMerge' | 'headBranch' | 'baseBranch' | 'headSha' | 'mergeCommitSha' | 'repoUrl' | 'checkedAt'>): PullRequest {
  const state = r.state === 'merged' || r.state === 'closed' ? r.state : 'open';
  return {
    number: r.number,
    url: r.url,
    state,
    draft: r.draft,
    auto_merge: r.autoMerge,
    head_branch: r.headBranch,
    base_branch: r.baseBranch,
    head_sha: r.headSha,
    merge_commit_sha: r.mergeCommitSha,
    repo_url: r.repoUrl,
    checked_at: r.checkedAt.toISOString(),
  };
}
