// Input shapes of the MCP tools (every field described, as the model reads them), built from the
// wire contract's request bodies; tool results are shaped by the contract's response schemas.
import { z } from '@hono/zod-openapi';
import { CreateBody, DiffQuery, ExecBody, LEASE_ID_PATTERN, PushBody } from '../contract.ts';
import { DiffRefQuery } from '../contract-read.ts';
import { NO_CONTROL, hasNoControl } from '../git/validate.ts';

/** A lease id argument. */
const id = z.string().regex(LEASE_ID_PATTERN, 'must be a lease id like sbx_…').describe('lease id returned by git_clone (sbx_…)');

/** A repo-relative path argument. */
const path = z.string().min(1).max(1024).describe('path relative to the repository root, e.g. src/index.ts');

/** Input of git_clone: the fields of POST /v1/sandboxes plus its Idempotency-Key header. */
export const CloneInput = {
  ...CreateBody.shape,
  idempotency_key: z.string().min(1).max(200).refine((s) => hasNoControl(s), NO_CONTROL).optional().describe('repeat a clone with the same key to get the same lease back instead of a second one'),
};

/** Input of tools that only name a lease. */
export const LeaseInput = { id };

/** Input of git_diff. */
export const DiffInput = {
  id,
  against: DiffQuery.shape.against,
  path: path.optional().describe('limit the diff to this repo-relative path'),
  max_bytes: z.number().int().min(1).max(10_485_760).default(262_144).describe('truncate the diff text at this many bytes (default 262144)'),
  ref: DiffRefQuery.shape.ref,
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
