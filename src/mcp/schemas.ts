// zod schemas of the MCP tools: input shapes (every field described, as the model reads them)
// and output schemas, shared with the REST routes where the REST shape already exists.
import { z } from '@hono/zod-openapi';
import { LEASE_ID_PATTERN, Lease } from '../routes/app-types.ts';
import { CreateBody } from '../routes/sandboxes.ts';
import { Diff, DiffQuery, ExecBody, ExecResult, PullResult, PushBody, PushResult, Status } from '../routes/git.ts';

/** A lease id argument. */
const id = z.string().regex(LEASE_ID_PATTERN, 'must be a lease id like sbx_…').describe('lease id returned by git_clone (sbx_…)');

/** A repo-relative path argument. */
const path = z.string().min(1).max(1024).describe('path relative to the repository root, e.g. src/index.ts');

/** Input of git_clone: the fields of POST /v1/sandboxes plus its Idempotency-Key header. */
export const CloneInput = {
  ...CreateBody.shape,
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

/** Output of file_read. */
export const FileContent = z.object({ path: z.string(), content: z.string(), encoding: z.enum(['utf-8', 'base64']), bytes: z.number() });

/** Output of file_write. */
export const FileWritten = z.object({ path: z.string(), bytes: z.number() });

/** Output of sandbox_release. */
export const Released = z.object({ id: z.string(), released: z.literal(true) });

export { Diff, ExecResult, Lease, PullResult, PushResult, Status };
