// Input shapes of the workbench's MCP tools (git_log, git_show, list_files, search, files_write),
// with the same fields and descriptions as the REST queries and body in src/contract-read.ts
// (MCP arguments are JSON, so numbers and booleans arrive typed instead of as query strings).
import { z } from '@hono/zod-openapi';
import { DESCRIBE, FileWriteEntry } from '../contract-read.ts';
import { LEASE_ID_PATTERN } from '../contract.ts';
import { NO_CONTROL, hasNoControl } from '../git/validate.ts';

const id = z.string().regex(LEASE_ID_PATTERN, 'must be a lease id like sbx_…').describe('lease id returned by git_clone (sbx_…)');
const plain = (max: number) => z.string().min(1).max(max).refine((s) => hasNoControl(s), NO_CONTROL);

/** Input of git_log. */
export const LogInput = {
  id,
  range: plain(520).optional().describe(DESCRIBE.range),
  path: plain(1024).optional().describe(DESCRIBE.logPath),
  limit: z.number().int().min(1).max(500).default(20).describe(DESCRIBE.limit),
};

/** Input of git_show. */
export const ShowInput = {
  id,
  rev: plain(256).describe(DESCRIBE.rev),
  max_bytes: z.number().int().min(1).max(10_485_760).default(262_144).describe(DESCRIBE.maxBytes),
};

/** Input of list_files. */
export const ListFilesInput = {
  id,
  path: plain(1024).optional().describe(DESCRIBE.dir),
  glob: plain(512).optional().describe(DESCRIBE.glob),
  depth: z.number().int().min(1).max(50).default(2).describe(DESCRIBE.depth),
};

/** Input of search. */
export const SearchInput = {
  id,
  pattern: plain(1000).describe(DESCRIBE.pattern),
  regex: z.boolean().default(false).describe(DESCRIBE.regex),
  ignore_case: z.boolean().default(false).describe(DESCRIBE.ignoreCase),
  path: plain(1024).optional().describe(DESCRIBE.searchPath),
  glob: plain(512).optional().describe(DESCRIBE.glob),
  max_results: z.number().int().min(1).max(1000).default(100).describe(DESCRIBE.maxResults),
};

/** Input of files_write. */
export const FilesWriteInput = {
  id,
  files: z.array(FileWriteEntry).max(1000).default([]).describe('files to create or overwrite: {path, content} for text or {path, content_base64} for bytes'),
  delete: z.array(plain(1024)).max(1000).optional().describe('repo-relative files to delete'),
};
