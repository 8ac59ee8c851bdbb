// The wire contract of the workbench: read-only git and file queries (log, show, list, search),
// the batch file write, and the history of leases, operations and keys. REST and MCP share these
// schemas; each type is inferred from its schema under the same name.
import { z } from '@hono/zod-openapi';
import { DiffQuery, FileStat, Lease } from './contract.ts';
import { NO_CONTROL, hasNoControl } from './git/validate.ts';

/** A string field of at most `max` characters with no control characters. */
const plain = (max: number) => z.string().min(1).max(max).refine((s) => hasNoControl(s), NO_CONTROL);

/** A boolean query parameter (`true` or `false`). */
const flag = (description: string) => z.enum(['true', 'false']).default('false').transform((v) => v === 'true').describe(description);

/** Descriptions shared by the REST query parameters and the MCP tool inputs. */
export const DESCRIBE = {
  range: 'a revision or range: main, HEAD~5, origin/main..HEAD, A...B (default HEAD); nothing starting with "-"',
  logPath: 'only commits that touch this repo-relative path',
  limit: 'most commits returned (default 20, max 500)',
  rev: 'the commit to show: a sha, branch, tag or expression like HEAD~1',
  maxBytes: 'truncate the patch at this many bytes (default 262144; never more than MAX_OUTPUT_BYTES/2)',
  dir: 'directory to list, repo-relative (default: the repository root)',
  glob: 'list (or search) only files matching this glob, e.g. *.ts (any depth) or src/**/*.test.ts; * does not cross /',
  depth: 'levels below the directory listed (default 2); ignored with glob',
  pattern: 'text to look for: a fixed string, or an extended regular expression with regex=true',
  regex: 'treat pattern as an extended regular expression (ERE)',
  ignoreCase: 'match case-insensitively',
  searchPath: 'search only under this repo-relative path',
  maxResults: 'most matching lines returned (default 100, max 1000)',
  ref: 'diff against this revision instead: the working tree (against=head) or the index (against=index) against it; a range A..B or A...B compares two commits, e.g. origin/main...HEAD for your committed changes since the merge base',
} as const;

/** Query of GET /v1/sandboxes/{id}/diff: the diff's query plus an optional revision to diff against. */
export const DiffRefQuery = DiffQuery.extend({ ref: plain(520).optional().describe(DESCRIBE.ref) });
export type DiffRefQuery = z.infer<typeof DiffRefQuery>;

/** Query of GET /v1/sandboxes/{id}/log. */
export const LogQuery = z.object({
  range: plain(520).optional().describe(DESCRIBE.range),
  path: plain(1024).optional().describe(DESCRIBE.logPath),
  limit: z.coerce.number().int().min(1).max(500).default(20).describe(DESCRIBE.limit),
});
export type LogQuery = z.infer<typeof LogQuery>;

/** One commit of a log. */
export const LogCommit = z.object({ sha: z.string(), author_name: z.string(), author_email: z.string(), date: z.string().describe('author date, ISO 8601'), subject: z.string() });
export type LogCommit = z.infer<typeof LogCommit>;

/** A log: newest first; `truncated` when cut at MAX_OUTPUT_BYTES. */
export const Log = z.object({ commits: z.array(LogCommit), truncated: z.boolean() }).openapi('Log');
export type Log = z.infer<typeof Log>;

/** Query of GET /v1/sandboxes/{id}/show. */
export const ShowQuery = z.object({
  rev: plain(256).describe(DESCRIBE.rev),
  max_bytes: z.coerce.number().int().min(1).max(10_485_760).default(262_144).describe(DESCRIBE.maxBytes),
});
export type ShowQuery = z.infer<typeof ShowQuery>;

/** A name, email and ISO 8601 date on a commit. */
export const Signature = z.object({ name: z.string(), email: z.string(), date: z.string() });
export type Signature = z.infer<typeof Signature>;

/** One commit in full, with its change against its first parent (the empty tree for a root commit). */
export const CommitDetail = z
  .object({
    sha: z.string(),
    parents: z.array(z.string()),
    author: Signature,
    committer: Signature,
    message: z.string().describe('the full commit message'),
    files: z.array(FileStat).describe('per-file line counts (binary files: 0/0, binary=true)'),
    diff: z.string().describe('the change as a unified diff'),
    truncated: z.boolean().describe('the message, the file list or the diff was cut at its bound'),
  })
  .openapi('CommitDetail');
export type CommitDetail = z.infer<typeof CommitDetail>;

/** Query of GET /v1/sandboxes/{id}/list-files. */
export const ListFilesQuery = z.object({
  path: plain(1024).optional().describe(DESCRIBE.dir),
  glob: plain(512).optional().describe(DESCRIBE.glob),
  depth: z.coerce.number().int().min(1).max(50).default(2).describe(DESCRIBE.depth),
});
export type ListFilesQuery = z.infer<typeof ListFilesQuery>;

/** One entry of a listing. */
export const FileEntry = z.object({
  path: z.string().describe('repo-relative'),
  type: z.enum(['file', 'dir', 'symlink']),
  size: z.number().nullable().describe('bytes (a symlink: the length of its target); null for a directory'),
});
export type FileEntry = z.infer<typeof FileEntry>;

/** A listing of the working tree (tracked files and untracked ones .gitignore does not exclude; never .git), sorted by path. */
export const FileList = z.object({ entries: z.array(FileEntry), truncated: z.boolean() }).openapi('FileList');
export type FileList = z.infer<typeof FileList>;

/** Query of GET /v1/sandboxes/{id}/search. */
export const SearchQuery = z.object({
  pattern: plain(1000).describe(DESCRIBE.pattern),
  regex: flag(DESCRIBE.regex),
  ignore_case: flag(DESCRIBE.ignoreCase),
  path: plain(1024).optional().describe(DESCRIBE.searchPath),
  glob: plain(512).optional().describe(DESCRIBE.glob),
  max_results: z.coerce.number().int().min(1).max(1000).default(100).describe(DESCRIBE.maxResults),
});
export type SearchQuery = z.infer<typeof SearchQuery>;

/** One matching line (its text cut at 1 KiB). */
export const SearchMatch = z.object({ path: z.string(), line: z.number().int(), text: z.string() });
export type SearchMatch = z.infer<typeof SearchMatch>;

/** Matches in path and line order; `truncated` when more matched than max_results, or the output hit MAX_OUTPUT_BYTES. */
export const SearchResults = z.object({ matches: z.array(SearchMatch), truncated: z.boolean() }).openapi('SearchResults');
export type SearchResults = z.infer<typeof SearchResults>;

/** One file of a batch write: exactly one of content (UTF-8) and content_base64. */
export const FileWriteEntry = z
  .object({
    path: plain(1024).describe('repo-relative path; parent directories are created'),
    content: z.string().max(16_777_216).optional().describe('the whole new content as UTF-8 text'),
    content_base64: z.string().max(22_369_622).optional().describe('the whole new content, base64-encoded (for binary files)'),
  })
  .strict();
export type FileWriteEntry = z.infer<typeof FileWriteEntry>;

/** Body of POST /v1/sandboxes/{id}/files: writes and deletes applied all together or not at all. */
export const FilesWriteBody = z
  .object({
    files: z.array(FileWriteEntry).max(1000).default([]).describe('files to create or overwrite'),
    delete: z.array(plain(1024)).max(1000).optional().describe('repo-relative files to delete'),
  })
  .strict()
  .openapi('FilesWriteRequest');
export type FilesWriteBody = z.infer<typeof FilesWriteBody>;

/** The answer of a batch write. */
export const FilesWritten = z
  .object({ written: z.array(z.object({ path: z.string(), bytes: z.number() })), deleted: z.array(z.string()) })
  .openapi('FilesWritten');
export type FilesWritten = z.infer<typeof FilesWritten>;

/** A lease, active or ended: an ended one (status released, expired, terminated or error) says when and how. */
export const LeaseState = Lease.extend({
  status: z.string().describe('initializing, ready or in_use while active; released, expired, terminated or error once ended'),
  ended_at: z.string().nullable().optional().describe('when the lease ended (ended leases only)'),
  last_operation: z.string().nullable().optional().describe('the last lease transition recorded (ended leases only)'),
}).openapi('LeaseState');
export type LeaseState = z.infer<typeof LeaseState>;

/** A page cursor of the operation lists: the last row's id. */
const OperationCursor = z.string().regex(/^\d{1,18}$/, 'must be a next_cursor from a previous page');

/** Query of GET /v1/sandboxes/{id}/operations. */
export const OperationsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100).describe('rows per page (default 100, max 500)'),
  cursor: OperationCursor.optional().describe('next_cursor of the previous page'),
});
export type OperationsQuery = z.infer<typeof OperationsQuery>;

/** Query of GET /v1/operations. */
export const AgentOperationsQuery = OperationsQuery.extend({
  repo: plain(2048).optional().describe('only operations on this repository (its URL)'),
  since: z.iso.datetime({ offset: true }).optional().describe('only operations started at or after this time (ISO 8601)'),
});
export type AgentOperationsQuery = z.infer<typeof AgentOperationsQuery>;

/** One recorded git operation. */
export const Operation = z
  .object({
    id: z.number().int(),
    lease_id: z.string().nullable(),
    repo_url: z.string().nullable(),
    op: z.string(),
    started_at: z.string(),
    duration_ms: z.number().nullable(),
    attempts: z.number().nullable(),
    lock_wait_ms: z.number().nullable(),
    result: z.string().describe('ok, or the error code in lower case'),
    commit_sha: z.string().nullable(),
    target_branch: z.string().nullable(),
    error: z.string().nullable().describe('redacted error text'),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('Operation');
export type Operation = z.infer<typeof Operation>;

/** A page of operations, oldest first; next_cursor is null on the last page. */
export const OperationPage = z.object({ operations: z.array(Operation), next_cursor: z.string().nullable() }).openapi('OperationPage');
export type OperationPage = z.infer<typeof OperationPage>;

/** Query of GET /v1/admin/keys. */
export const KeysQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100).describe('rows per page (default 100, max 500)'),
  cursor: z.string().regex(/^\d{1,16}\.[A-Za-z0-9_-]{1,100}$/, 'must be a next_cursor from a previous page').optional().describe('next_cursor of the previous page'),
  agent_id: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 . _ -').optional().describe("only this agent's keys"),
});
export type KeysQuery = z.infer<typeof KeysQuery>;

/** An API key as the admin sees it: never the key or its hash. */
export const ApiKeyInfo = z
  .object({ id: z.string(), agent_id: z.string(), created_at: z.string(), revoked_at: z.string().nullable(), expires_at: z.string().nullable() })
  .openapi('ApiKeyInfo');
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;

/** A page of keys, oldest first; next_cursor is null on the last page. */
export const KeyPage = z.object({ keys: z.array(ApiKeyInfo), next_cursor: z.string().nullable() }).openapi('KeyPage');
export type KeyPage = z.infer<typeof KeyPage>;
