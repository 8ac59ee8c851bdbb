// The workbench's MCP tools: git_log, git_show, list_files and search (read-only) and files_write,
// each calling the same service function as its REST route, for the calling agent.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as C from '../contract-read.ts';
import { writeFiles } from '../services/files-batch.ts';
import type { ServiceContext } from '../services/context.ts';
import { gitLog, gitShow, listFiles, searchFiles } from '../services/read.ts';
import * as R from './render-read.ts';
import { toolResult } from './results.ts';
import * as S from './schemas-read.ts';

/** Annotations of a tool that only reads the lease's repository. */
export const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

/** Registers the workbench tools on `server`, bound to the authenticated agent. */
export function registerReadTools(server: McpServer, svc: ServiceContext, agentId: string): void {
  const log = svc.log;

  server.registerTool(
    'git_log',
    {
      title: 'Git log',
      description: 'Commits of a revision or range (default HEAD), newest first: sha, author, date, subject. Optionally only those touching a path.',
      inputSchema: S.LogInput,
      annotations: READ_ONLY,
    },
    async ({ id, ...o }) => toolResult(log, 'git_log', C.Log, () => gitLog(svc, agentId, id, o), R.log),
  );

  server.registerTool(
    'git_show',
    {
      title: 'Show a commit',
      description: 'One commit in full: message, author, committer, parents, per-file line counts and the diff against its first parent (truncated at max_bytes).',
      inputSchema: S.ShowInput,
      annotations: READ_ONLY,
    },
    async ({ id, rev, max_bytes }) => toolResult(log, 'git_show', C.CommitDetail, () => gitShow(svc, agentId, id, { rev, maxBytes: max_bytes }), R.show),
  );

  server.registerTool(
    'list_files',
    {
      title: 'List files',
      description: 'Files and directories of the working tree under path (default the root) down to depth levels, or every file matching glob: path, type (file, dir, symlink) and size. Tracked and untracked files; .gitignore is respected and .git never listed.',
      inputSchema: S.ListFilesInput,
      annotations: READ_ONLY,
    },
    async ({ id, ...o }) => toolResult(log, 'list_files', C.FileList, () => listFiles(svc, agentId, id, o), R.files),
  );

  server.registerTool(
    'search',
    {
      title: 'Search files',
      description: 'Lines of the working tree\'s text files containing pattern (a fixed string, or an extended regular expression with regex=true), with path and line number. Untracked files are searched too; .gitignore is respected.',
      inputSchema: S.SearchInput,
      annotations: READ_ONLY,
    },
    async ({ id, pattern, regex, ignore_case, path, glob, max_results }) =>
      toolResult(log, 'search', C.SearchResults, () => searchFiles(svc, agentId, id, { pattern, regex, ignoreCase: ignore_case, path, glob, maxResults: max_results }), R.search),
  );

  server.registerTool(
    'files_write',
    {
      title: 'Write many files',
      description: 'Creates or overwrites many files and deletes others in one step: every change is made or none is (one bad path and nothing is written). Paths stay inside the repository, out of .git, and never through a symlinked directory.',
      inputSchema: S.FilesWriteInput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ id, ...input }) => toolResult(log, 'files_write', C.FilesWritten, () => writeFiles(svc, agentId, id, input), R.written),
  );
}
