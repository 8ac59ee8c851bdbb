// Input shapes of the MCP tools (every field described, as the model reads them), built from the
// wire contract's request bodies; tool results are shaped by the contract's response schemas.
import { z } from '@hono/zod-openapi';
import type { Config } from '../config.ts';
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

/** The server limits the tool inputs below are bounded by. */
export type InputLimits = Pick<Config, 'MAX_BODY_BYTES' | 'MAX_OUTPUT_BYTES'>;

/** Input of git_diff (max_bytes at most MAX_OUTPUT_BYTES, where the server cuts the diff anyway). */
export function diffInput(limits: InputLimits) {
  const max = limits.MAX_OUTPUT_BYTES;
  const byDefault = Math.min(262_144, max);
  return {
    id,
    against: DiffQuery.shape.against,
    path: path.optional().describe('limit the diff to this repo-relative path'),
    max_bytes: z.number().int().min(1).max(max).default(byDefault).describe(`truncate the diff text at this many bytes (default ${byDefault}, at most ${max}: MAX_OUTPUT_BYTES)`),
    ref: DiffRefQuery.shape.ref,
  };
}

/** Input of git_push. */
export const PushInput = { id, ...PushBody.shape };

/** Input of file_read. */
export const FileReadInput = { id, path };

/**
 * Input of file_write. The whole JSON-RPC request must fit in MAX_BODY_BYTES, so content is bounded
 * by it too (a UTF-8 character may take up to 3 bytes, and base64 is 4/3 of the file's size).
 */
export function fileWriteInput(limits: InputLimits) {
  const max = limits.MAX_BODY_BYTES;
  return {
    id,
    path,
    content: z
      .string()
      .max(max)
      .describe(`the whole new file content; parent directories are created. The request carrying it may be at most ${max} bytes (MAX_BODY_BYTES): about ${Math.floor((max * 3) / 4)} bytes of file as base64; write larger files in parts with exec`),
    encoding: z.enum(['utf-8', 'base64']).default('utf-8').describe('utf-8 (default) for text, base64 for binary content'),
  };
}

/** Input of exec. */
export const ExecInput = { id, ...ExecBody.shape };
