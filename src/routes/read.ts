// /v1/sandboxes/{id}/log|show|list-files|search: read-only views of the caller's repository, and
// POST /v1/sandboxes/{id}/files: many files written and deleted at once, all or nothing.
import { createRoute, z } from '@hono/zod-openapi';
import { CommitDetail, FileList, FilesWriteBody, FilesWritten, ListFilesQuery, Log, LogQuery, SearchQuery, SearchResults, ShowQuery } from '../contract-read.ts';
import { ErrorBody, LeaseId } from '../contract.ts';
import { writeFiles } from '../services/files-batch.ts';
import { gitLog, gitShow, listFiles, searchFiles } from '../services/read.ts';
import { errorResponses, security, subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const params = z.object({ id: LeaseId });

const log = createRoute({
  method: 'get', path: '/v1/sandboxes/{id}/log', operationId: 'gitLog', tags: ['git'], security,
  summary: 'Commits of a revision or range, newest first (bounded by MAX_OUTPUT_BYTES)',
  request: { params, query: LogQuery }, responses: { 200: json(Log, 'Commits'), ...errorResponses },
});
const show = createRoute({
  method: 'get', path: '/v1/sandboxes/{id}/show', operationId: 'gitShow', tags: ['git'], security,
  summary: 'One commit: message, author, committer, parents, per-file numstat and the diff against its first parent (bounded)',
  request: { params, query: ShowQuery }, responses: { 200: json(CommitDetail, 'The commit'), ...errorResponses },
});
const list = createRoute({
  method: 'get', path: '/v1/sandboxes/{id}/list-files', operationId: 'listFiles', tags: ['files'], security,
  summary: 'Files and directories of the working tree under a directory (to a depth) or matching a glob; tracked and untracked, .gitignore respected, .git never',
  request: { params, query: ListFilesQuery }, responses: { 200: json(FileList, 'Entries, sorted by path'), ...errorResponses },
});
const search = createRoute({
  method: 'get', path: '/v1/sandboxes/{id}/search', operationId: 'searchFiles', tags: ['files'], security,
  summary: 'Lines matching a fixed string (or an ERE with regex=true) in the working tree, with line numbers (bounded)',
  request: { params, query: SearchQuery }, responses: { 200: json(SearchResults, 'Matches'), ...errorResponses },
});
const write = createRoute({
  method: 'post', path: '/v1/sandboxes/{id}/files', operationId: 'writeFiles', tags: ['files'], security,
  summary: 'Write and delete many files at once: every change is made or none is (one bad path → nothing written)',
  request: { params, body: { required: true, content: { 'application/json': { schema: FilesWriteBody } } } },
  responses: { 200: json(FilesWritten, 'All applied'), 413: json(ErrorBody, 'The batch exceeds MAX_BODY_BYTES'), ...errorResponses },
});

/** The read-only views and the batch write. */
export const readApp = subApp()
  .openapi(log, async (c) => c.json(await gitLog(c.var.svc, c.var.agentId, c.req.valid('param').id, c.req.valid('query')), 200))
  .openapi(show, async (c) => {
    const q = c.req.valid('query');
    return c.json(await gitShow(c.var.svc, c.var.agentId, c.req.valid('param').id, { rev: q.rev, maxBytes: q.max_bytes }), 200);
  })
  .openapi(list, async (c) => c.json(await listFiles(c.var.svc, c.var.agentId, c.req.valid('param').id, c.req.valid('query')), 200))
  .openapi(search, async (c) => {
    const q = c.req.valid('query');
    const o = { pattern: q.pattern, regex: q.regex, ignoreCase: q.ignore_case, path: q.path, glob: q.glob, maxResults: q.max_results };
    return c.json(await searchFiles(c.var.svc, c.var.agentId, c.req.valid('param').id, o), 200);
  })
  .openapi(write, async (c) => c.json(await writeFiles(c.var.svc, c.var.agentId, c.req.valid('param').id, c.req.valid('json')), 200));
