// Pull requests on GitHub through GitHubClient: find, create, update, read and merge them, and enable
// auto-merge. Answers are parsed with zod (an upstream response is a trust edge); expected refusals
// (an existing pull request, no commits, not mergeable) are values, other failures PROVIDER_ERROR.
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { apiMessage, type ApiAnswer, type GitHubClient } from './client.ts';

/** How a pull request is merged: GitHub's merge methods, named like the landing strategies. */
export type MergeMethod = 'merge' | 'squash' | 'rebase';

/** A pull request as the service keeps it. */
export interface PullState {
  number: number;
  nodeId: string;
  url: string;
  state: 'open' | 'closed' | 'merged';
  draft: boolean;
  autoMerge: boolean;
  headBranch: string;
  baseBranch: string;
  headSha: string | null;
  mergeCommitSha: string | null;
}

/** The fields of GitHub's pull request object the service reads. */
const GitHubPull = z.object({
  number: z.number().int(),
  node_id: z.string(),
  html_url: z.string(),
  state: z.enum(['open', 'closed']),
  draft: z.boolean().optional(),
  merged: z.boolean().optional(),
  merged_at: z.string().nullable().optional(),
  merge_commit_sha: z.string().nullable().optional(),
  auto_merge: z.object({}).passthrough().nullable().optional(),
  head: z.object({ ref: z.string(), sha: z.string().nullable().optional() }),
  base: z.object({ ref: z.string() }),
});

function pullOf(data: unknown): PullState {
  const p = GitHubPull.parse(data);
  // The list endpoint has no `merged` field; merged_at tells the same.
  const merged = p.merged === true || !!p.merged_at;
  return {
    number: p.number,
    nodeId: p.node_id,
    url: p.html_url,
    state: merged ? 'merged' : p.state,
    draft: p.draft ?? false,
    autoMerge: !!p.auto_merge,
    headBranch: p.head.ref,
    baseBranch: p.base.ref,
    headSha: p.head.sha ?? null,
    mergeCommitSha: merged ? (p.merge_commit_sha ?? null) : null,
  };
}

/** A PROVIDER_ERROR for an answer no caller expects; the public text names the step and GitHub's status and message. */
export function unexpected(a: ApiAnswer, step: string): AppError {
  const why = a.status === 401 || a.status === 403 ? ' (check that the credential may write pull requests on this repository)' : '';
  return new AppError('PROVIDER_ERROR', `GitHub refused to ${step}: ${a.status} ${apiMessage(a)}${why}`.trim(), { retryAfterS: a.status >= 500 || a.status === 429 ? 5 : undefined });
}

/** The open pull request from `head` into `base`, or null. */
export async function findOpenPull(gh: GitHubClient, head: string, base: string): Promise<PullState | null> {
  const a = await gh.rest('GET /repos/{owner}/{repo}/pulls', { head: `${gh.owner}:${head}`, base, state: 'open', per_page: 10 });
  if (a.status !== 200 || !Array.isArray(a.data)) throw unexpected(a, 'list pull requests');
  const hit = a.data.map(pullOf).find((p) => p.headBranch === head && p.baseBranch === base);
  return hit ?? null;
}

/** Result of createPull: the new pull request, or why none was made (`no_head`: the head branch is not on GitHub). */
export type CreateResult = { kind: 'created'; pull: PullState } | { kind: 'exists' } | { kind: 'no_commits' } | { kind: 'no_head' };

/** Opens a pull request from `head` into `base`. */
export async function createPull(gh: GitHubClient, o: { head: string; base: string; title: string; body?: string; draft?: boolean }): Promise<CreateResult> {
  const a = await gh.rest('POST /repos/{owner}/{repo}/pulls', { head: o.head, base: o.base, title: o.title, body: o.body ?? '', draft: o.draft ?? false });
  if (a.status === 201) return { kind: 'created', pull: pullOf(a.data) };
  const errors = (a.data as { errors?: unknown } | null)?.errors;
  const list = Array.isArray(errors) ? (errors as { field?: unknown; code?: unknown }[]) : [];
  const text = `${apiMessage(a)} ${JSON.stringify(errors ?? '')}`;
  if (a.status === 422 && /already exists/i.test(text)) return { kind: 'exists' };
  if (a.status === 422 && /no commits between/i.test(text)) return { kind: 'no_commits' };
  if (a.status === 422 && list.some((e) => e?.field === 'head' && e?.code === 'invalid')) return { kind: 'no_head' };
  throw unexpected(a, 'open a pull request');
}

/** Sets the title and/or body of pull request `n`. */
export async function updatePull(gh: GitHubClient, n: number, o: { title?: string; body?: string }): Promise<PullState> {
  const a = await gh.rest('PATCH /repos/{owner}/{repo}/pulls/{pull_number}', { pull_number: n, ...(o.title !== undefined && { title: o.title }), ...(o.body !== undefined && { body: o.body }) });
  if (a.status !== 200) throw unexpected(a, `update pull request #${n}`);
  return pullOf(a.data);
}

/** Pull request `n`, or null when GitHub no longer has it. */
export async function getPull(gh: GitHubClient, n: number): Promise<PullState | null> {
  const a = await gh.rest('GET /repos/{owner}/{repo}/pulls/{pull_number}', { pull_number: n });
  if (a.status === 404) return null;
  if (a.status !== 200) throw unexpected(a, `read pull request #${n}`);
  return pullOf(a.data);
}

/** Result of mergePull. */
export type MergeResult = { kind: 'merged'; sha: string } | { kind: 'refused'; status: number; message: string };

/** Merges pull request `n` with `method` if its head is still `sha` (405: not mergeable, 409: the head moved). */
export async function mergePull(gh: GitHubClient, n: number, method: MergeMethod, sha?: string): Promise<MergeResult> {
  const a = await gh.rest('PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge', { pull_number: n, merge_method: method, ...(sha && { sha }) });
  if (a.status === 200) return { kind: 'merged', sha: z.object({ sha: z.string() }).parse(a.data).sha };
  if (a.status === 405 || a.status === 409 || a.status === 422) return { kind: 'refused', status: a.status, message: apiMessage(a) };
  throw unexpected(a, `merge pull request #${n}`);
}

const ENABLE_AUTO_MERGE = `mutation($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {
  enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId, mergeMethod: $mergeMethod}) {
    pullRequest { number state autoMergeRequest { enabledAt mergeMethod } }
  }
}`;

/** Result of enableAutoMerge: enabled (GitHub merges once the requirements pass), merged at once, or not. */
export type AutoMergeResult = { kind: 'enabled' } | { kind: 'merged' } | { kind: 'refused'; message: string };

/**
 * Asks GitHub to merge `pull` with `method` once its required reviews and checks pass (the
 * `enablePullRequestAutoMerge` mutation; on a branch with a merge queue this queues it). GitHub
 * refuses auto-merge for a pull request that can merge right now ("clean status"): that one is
 * merged at once through REST, at the head it was opened with.
 */
export async function enableAutoMerge(gh: GitHubClient, pull: PullState, method: MergeMethod): Promise<AutoMergeResult> {
  const a = await gh.graphql(ENABLE_AUTO_MERGE, { pullRequestId: pull.nodeId, mergeMethod: method.toUpperCase() });
  const errors = (a.data as { errors?: unknown[] } | null)?.errors;
  if (a.status === 200 && !errors?.length) return { kind: 'enabled' };
  const message = apiMessage(a);
  if (a.status === 200 && /clean status/i.test(message)) {
    const m = await mergePull(gh, pull.number, method, pull.headSha ?? undefined);
    return m.kind === 'merged' ? { kind: 'merged' } : { kind: 'refused', message: m.message };
  }
  if (a.status === 200) return { kind: 'refused', message };
  throw unexpected(a, `enable auto-merge on pull request #${pull.number}`);
}
