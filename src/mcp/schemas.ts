// zod schemas of the MCP tools: input shapes (every field described, as the model reads them)
// and output schemas, shared with the REST routes where the REST shape already exists.
import { z } from '@hono/zod-openapi';
import { Lease } from '../routes/app-types.ts';
import { Diff, DiffQuery, ExecBody, ExecResult, PushBody, PushResult, Status } from '../routes/git.ts';

/** A lease id argument. */
const id = z.string().regex(/^sbx_[0-9a-f]{24}$/, 'must be a lease id like sbx_…').describe('lease id returned by git_clone (sbx_…)');

/** A repo-relative path argument. */
const path = z.string().min(1).max(1024).describe('path relative to the repository root, e.g. src/index.ts');

/** Input of git_clone (the same fields as POST /v1/sandboxes). */
export const CloneInput = {
  repo_url: z.string().min(1).max(2048).describe('http(s) URL of the repository to clone; must match ALLOWED_REPOS'),
  branch: z.string().min(1).max(200).default('main').describe('base branch to check out (default main)'),
  task_id: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 . _ -').describe('your task id; names the default agent branch'),
  agent_branch: z.string().min(1).max(200).optional().describe('branch to create for your work; default agent/<agent_id>/<task_id>'),
  ttl_s: z.number().int().min(10).max(86_400).optional().describe('lease lifetime in seconds; default SANDBOX_TTL_S (3600)'),
  idempotency_key: z.string().min(1).max(200).optional().describe('repeat a clone with the same key to get the same lease back instead of a second one'),
};

/** Input of tools that only name a lease. */
export const LeaseInput = { id };

/** Input of git_diff. */
export const DiffInput = {
  id,
  against: DiffQuery.shape.against,
  path: path.optional().describe('limit the diff to this repo-relative path'),
  max_bytes: z.number().int().min(1).max(10_485_760).default(262_144).describe('truncate the diff text at this many bytes (default 262144)'),
};

/** Input of git_push. */
export const PushInput = { id, ...PushBody.shape };

/** Input of file_read. */
export const FileReadInput = { id, path };

/** Input of file_write. */
export const FileWriteInput = {
  id,
  path,
  content: z.string().max(16_777_216).describe('the whole new file content; parent directories are created'),
  encoding: z.enum(['utf-8', 'base64']).default('utf-8').describe('utf-8 (default) for text, base64 for binary content'),
};

/** Input of exec. */
export const ExecInput = { id, ...ExecBody.shape };

/** Output of sandbox_list. */
export const LeaseList = z.object({ sandboxes: z.array(Lease) });

/** Output of git_pull. */
export const PullResult = z.object({ head: z.string(), previous_head: z.string(), updated: z.boolean() });

/** Output of file_read. */
export const FileContent = z.object({ path: z.string(), content: z.string(), encoding: z.enum(['utf-8', 'base64']), bytes: z.number() });

/** Output of file_write. */
export const FileWritten = z.object({ path: z.string(), bytes: z.number() });

/** Output of sandbox_release. */
export const Released = z.object({ id: z.string(), released: z.literal(true) });

export { Diff, ExecResult, Lease, PushResult, Status };
