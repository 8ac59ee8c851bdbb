// The wire contract of the agent API: zod schemas of every request and response body that REST
// (src/routes) and MCP (src/mcp) share, each type inferred from its schema under the same name.
import { z } from '@hono/zod-openapi';
import { NO_CONTROL, NO_CONTROL_TEXT, hasNoControl } from './git/validate.ts';

/** What a lease id looks like (`sbx_` + 24 hex digits). */
export const LEASE_ID_PATTERN = /^sbx_[0-9a-f]{24}$/;

/** A lease id path parameter. */
export const LeaseId = z.string().regex(LEASE_ID_PATTERN, 'must be a lease id like sbx_…').openapi({ param: { name: 'id', in: 'path' }, example: 'sbx_0123456789abcdef01234567' });

/** The error body every failure shares. */
export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string() }).passthrough() })
  .openapi('Error');
export type ErrorBody = z.infer<typeof ErrorBody>;

/** A lease, as the API shows it (no provider ids, no credentials). */
export const Lease = z
  .object({
    id: z.string(),
    agent_id: z.string(),
    task_id: z.string(),
    repo_url: z.string(),
    branch: z.string(),
    agent_branch: z.string(),
    status: z.string(),
    workdir: z.string().nullable(),
    created_at: z.string(),
    expires_at: z.string(),
    lease_source: z.enum(['warm', 'affinity', 'cold']),
    mode: z.enum(['pooled', 'direct']),
    base_commit: z.string().nullable().describe('the commit of origin/<branch> the lease started from'),
    fetched_at: z.string().nullable().describe('when the service last saw base_commit as the tip'),
    error: z.object({ code: z.string(), message: z.string() }).nullable().optional().describe('why the lease failed (a clone that failed in the background: CLONE_FAILED, BRANCH_NOT_FOUND, …)'),
  })
  .openapi('Lease');
export type Lease = z.infer<typeof Lease>;

/** The caller's leases. */
export const LeaseList = z.object({ sandboxes: z.array(Lease) });
export type LeaseList = z.infer<typeof LeaseList>;

/** How a new clone is made: shallow (`git clone --depth N`) and/or partial (`--filter=blob:none`). */
export const CloneOptions = z
  .object({
    depth: z.number().int().min(1).max(1_000_000).optional().describe('shallow clone of the last N commits of the base branch (git clone --depth N --single-branch)'),
    filter: z.enum(['blob:none']).optional().describe('partial clone: file contents are fetched when first needed (git clone --filter=blob:none)'),
  })
  .strict()
  .openapi('CloneOptions');
export type CloneOptions = z.infer<typeof CloneOptions>;

/** Body of POST /v1/sandboxes (also the git_clone tool's input). */
export const CreateBody = z
  .object({
    repo_url: z.string().min(1).max(2048).refine((s) => hasNoControl(s), NO_CONTROL).describe('http(s) URL of the repository; must match ALLOWED_REPOS'),
    branch: z.string().min(1).max(200).refine((s) => hasNoControl(s), NO_CONTROL).default('main').describe('base branch to check out (a branch name: not HEAD, not refs/…)'),
    task_id: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 . _ -').describe('the agent task this lease serves'),
    agent_branch: z.string().min(1).max(200).refine((s) => hasNoControl(s), NO_CONTROL).optional().describe('branch to create; default agent/<agent_id>/<task_id>'),
    ttl_s: z.number().int().min(10).max(86_400).optional().describe('lease lifetime in seconds; default SANDBOX_TTL_S'),
    clone: CloneOptions.optional().describe('how much of the repository a new clone fetches (a pooled clone that already holds more is used as it is)'),
    wait: z.boolean().default(true).describe('true (default): answer 201 once the clone is ready, or 202 with status initializing if it takes over ~20 s; false: answer 202 at once. Poll GET /v1/sandboxes/{id} until ready (or error)'),
  })
  .strict()
  .openapi('CreateLease');
export type CreateBody = z.infer<typeof CreateBody>;

/** Body of POST /v1/sandboxes/{id}/renew. */
export const RenewBody = z.object({ ttl_s: z.number().int().min(10).max(86_400).optional() }).strict();
export type RenewBody = z.infer<typeof RenewBody>;

/** A parsed git status. */
export const Status = z
  .object({
    branch: z.string().nullable(),
    upstream: z.string().nullable(),
    ahead: z.number(),
    behind: z.number(),
    staged: z.array(z.string()),
    modified: z.array(z.string()),
    untracked: z.array(z.string()),
    conflicted: z.array(z.string()),
    clean: z.boolean(),
    truncated: z.boolean().describe('the status was cut at MAX_OUTPUT_BYTES; the lists hold only what fitted'),
  })
  .openapi('Status');
export type Status = z.infer<typeof Status>;

/** Query of GET /v1/sandboxes/{id}/diff. */
export const DiffQuery = z.object({
  against: z.enum(['head', 'index', 'base']).default('head').describe('head: working tree vs HEAD; index: staged; base: working tree vs origin/<branch>'),
  path: z.string().min(1).max(1024).refine((s) => hasNoControl(s), NO_CONTROL).optional().describe('limit to this repo-relative path'),
  max_bytes: z.coerce.number().int().min(1).max(10_485_760).default(262_144).describe('truncate the diff text at this many bytes'),
});
export type DiffQuery = z.infer<typeof DiffQuery>;

/** One file's line counts in a diff (a binary file counts 0/0 with binary=true). */
export const FileStat = z.object({ path: z.string(), additions: z.number(), deletions: z.number(), binary: z.boolean() });
export type FileStat = z.infer<typeof FileStat>;

/** A bounded unified diff with per-file counts. */
export const Diff = z.object({ diff: z.string(), files: z.array(FileStat), truncated: z.boolean() }).openapi('Diff');
export type Diff = z.infer<typeof Diff>;

/** How a push to the base lands: its commits replayed onto the tip, a merge commit, or one squashed commit. */
export const LandingStrategy = z.enum(['rebase', 'merge', 'squash']).openapi('LandingStrategy');
export type LandingStrategy = z.infer<typeof LandingStrategy>;

/** Options of a push with target "pull_request". */
export const PullRequestOptions = z
  .object({
    title: z.string().min(1).max(256).refine((s) => hasNoControl(s), NO_CONTROL).optional().describe('pull request title; default the first line of message (an existing pull request keeps its title unless given)'),
    body: z.string().max(65_536).refine((s) => hasNoControl(s, true), NO_CONTROL_TEXT).optional().describe('pull request description (an existing pull request keeps its body unless given)'),
    draft: z.boolean().optional().describe('open as a draft (only when the pull request is created)'),
    auto_merge: z.boolean().optional().describe('ask the host to merge it with the push\'s strategy once its required reviews and checks pass'),
  })
  .strict()
  .openapi('PullRequestOptions');
export type PullRequestOptions = z.infer<typeof PullRequestOptions>;

/** Body of POST /v1/sandboxes/{id}/push (also the git_push tool's input, with the lease id). */
export const PushBody = z
  .object({
    message: z.string().min(1).max(10_000).refine((s) => hasNoControl(s, true), NO_CONTROL_TEXT).describe('commit message for staged changes'),
    paths: z.array(z.string().min(1).max(1024).refine((s) => hasNoControl(s), NO_CONTROL)).max(1000).optional().describe('repo-relative paths to stage; default all changes'),
    target: z.enum(['agent_branch', 'base', 'pull_request']).default('agent_branch').describe('agent_branch (default); base to land on the base branch; pull_request to push the agent branch and open or update a pull request against the base'),
    strategy: LandingStrategy.optional().describe('for target base (and a pull request\'s auto_merge): rebase (default) replays your commits onto the tip, merge adds a merge commit, squash lands one commit'),
    pull_request: PullRequestOptions.optional().describe('for target pull_request: title, body, draft, auto_merge'),
    author: z
      .object({ name: z.string().min(1).max(200).refine((s) => hasNoControl(s), NO_CONTROL), email: z.string().email().max(320).refine((s) => hasNoControl(s), NO_CONTROL) })
      .strict()
      .optional()
      .describe('commit author'),
  })
  .strict()
  .openapi('PushRequest');
export type PushBody = z.infer<typeof PushBody>;

/** The answer of a pull. */
export const PullResult = z.object({ head: z.string(), previous_head: z.string(), updated: z.boolean() }).openapi('PullResult');
export type PullResult = z.infer<typeof PullResult>;

/** A pull request of a lease's agent branch against its base, as last read from the host. */
export const PullRequest = z
  .object({
    number: z.number().int(),
    url: z.string().describe('the pull request\'s web page'),
    state: z.enum(['open', 'closed', 'merged']),
    draft: z.boolean(),
    auto_merge: z.boolean().describe('the host merges it once its requirements pass'),
    head_branch: z.string(),
    base_branch: z.string(),
    head_sha: z.string().nullable(),
    merge_commit_sha: z.string().nullable(),
    repo_url: z.string(),
    checked_at: z.string().describe('when the service last read it from the host'),
    note: z.string().optional().describe('why a requested auto_merge was not enabled'),
  })
  .openapi('PullRequest');
export type PullRequest = z.infer<typeof PullRequest>;

/** The answer of a push. */
export const PushResult = z
  .object({
    commit: z.string(),
    target_branch: z.string(),
    attempts: z.number(),
    lock_wait_ms: z.number(),
    rebased: z.boolean(),
    committed: z.boolean(),
    batch_size: z.number(),
    strategy: LandingStrategy.optional().describe('how a push to the base landed'),
    pull_request: PullRequest.optional().describe('target pull_request: the pull request opened or updated'),
  })
  .openapi('PushResult');
export type PushResult = z.infer<typeof PushResult>;

/** Body of POST /v1/sandboxes/{id}/exec. */
export const ExecBody = z
  .object({
    command: z.string().min(1).max(100_000).refine((s) => !s.includes('\0'), 'must not contain NUL characters').describe('bash command, run in the repository'),
    timeout_ms: z.number().int().min(100).max(3_600_000).optional().describe('kill after this long (capped by EXEC_TIMEOUT_MS); for a background job, no cap and no default: it runs until it exits, is killed or the lease ends'),
    background: z.boolean().optional().describe('start it as a background job and answer 202 {job_id} at once; read it with GET …/jobs/{job_id} and …/logs'),
  })
  .strict()
  .openapi('ExecRequest');
export type ExecBody = z.infer<typeof ExecBody>;

/** The answer of a command run. */
export const ExecResult = z
  .object({ exit_code: z.number(), stdout: z.string(), stderr: z.string(), truncated: z.boolean(), timed_out: z.boolean() })
  .openapi('ExecResult');
export type ExecResult = z.infer<typeof ExecResult>;

/** A file read over MCP: UTF-8 text, or base64 for bytes that are not valid UTF-8. */
export const FileContent = z.object({ path: z.string(), content: z.string(), encoding: z.enum(['utf-8', 'base64']), bytes: z.number() });
export type FileContent = z.infer<typeof FileContent>;

/** The answer of a file write. */
export const FileWritten = z.object({ path: z.string(), bytes: z.number() });
export type FileWritten = z.infer<typeof FileWritten>;

/** The answer of a release over MCP. */
export const Released = z.object({ id: z.string(), released: z.literal(true) });
export type Released = z.infer<typeof Released>;
