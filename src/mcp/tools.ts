// The MCP tools: each one calls the same service function as its REST route, for the calling agent.
// No tool declares an outputSchema: the SDK's client (1.32) validates structuredContent against it
// even on isError results, so the error body would surface as a -32602 instead of the error.
// Results are still shaped by the zod schemas in schemas.ts.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ServiceContext } from '../services/context.ts';
import { readFile, writeFile } from '../services/files.ts';
import { gitDiff, gitPull, gitStatus } from '../services/git-ops.ts';
import { gitPush } from '../services/push.ts';
import { createLease, listLeases, releaseLease } from '../services/leases.ts';
import { decodeContent, fileContent } from './content.ts';
import { execTool } from './exec-tool.ts';
import { toolResult } from './results.ts';
import * as C from '../contract.ts';
import * as S from './schemas.ts';
import * as R from './render.ts';

/** Registers every tool on `server`, bound to the authenticated agent. */
export function registerTools(server: McpServer, svc: ServiceContext, agentId: string): void {
  const log = svc.log;

  server.registerTool(
    'git_clone',
    {
      title: 'Lease a sandbox and clone a repository',
      description: 'Leases a sandbox with repo_url cloned, branch checked out and your agent branch created. Returns the lease; pass its id to every other tool, and call sandbox_release when done.',
      inputSchema: S.CloneInput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    async ({ idempotency_key, ...input }) => toolResult(log, 'git_clone', C.Lease, () => createLease(svc, agentId, input, idempotency_key), R.lease),
  );

  server.registerTool(
    'git_status',
    {
      title: 'Git status',
      description: 'Parsed git status of the lease\'s repository: branch, upstream, ahead/behind, staged, modified, untracked and conflicted paths.',
      inputSchema: S.LeaseInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ id }) => toolResult(log, 'git_status', C.Status, () => gitStatus(svc, agentId, id), R.status),
  );

  server.registerTool(
    'git_diff',
    {
      title: 'Git diff',
      description: 'Unified diff with per-file line counts: working tree against HEAD (default), the index (staged changes), the base branch on the remote, or any ref (a range A..B or A...B compares two commits).',
      inputSchema: S.diffInput(svc.cfg),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ id, against, path, max_bytes, ref }) =>
      toolResult(log, 'git_diff', C.Diff, () => gitDiff(svc, agentId, id, { against, path, maxBytes: max_bytes, ref }), R.diff),
  );

  server.registerTool(
    'git_pull',
    {
      title: 'Pull (rebase onto the base branch)',
      description: 'Fetches and rebases your branch onto origin/<base branch>, stashing local changes around it. On a conflict the rebase is aborted, the tree is left unchanged and MERGE_CONFLICT lists the paths.',
      inputSchema: S.LeaseInput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async ({ id }) => toolResult(log, 'git_pull', C.PullResult, () => gitPull(svc, agentId, id), R.pull),
  );

  server.registerTool(
    'git_push',
    {
      title: 'Commit and push',
      description: 'Stages (paths, or all changes) and commits with message, then lands the commit on your agent branch (default) or, with target "base", on the base branch: under a per-repo lock it rebases onto the latest tip and pushes without force, retrying if the branch moved; strategy "merge" lands a merge commit instead, "squash" one commit. Target "pull_request" pushes your agent branch and opens (or updates) a pull request into the base (pull_request: title, body, draft, auto_merge); follow it with pull_request_status. A conflict returns MERGE_CONFLICT with the paths, the rebase aborted and your commit kept; to resolve, exec "git rebase origin/<target>", fix the files, exec "git add <paths> && GIT_EDITOR=true git rebase --continue" and push again.',
      inputSchema: S.PushInput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    async ({ id, ...input }) => toolResult(log, 'git_push', C.PushResult, () => gitPush(svc, agentId, id, input), R.push),
  );

  server.registerTool(
    'file_read',
    {
      title: 'Read a file',
      description: 'Reads a file of the repository. Text comes back as UTF-8; a file that is not valid UTF-8 comes back base64-encoded (encoding says which).',
      inputSchema: S.FileReadInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ id, path }) =>
      toolResult(log, 'file_read', C.FileContent, async () => fileContent(path, await readFile(svc, agentId, id, path)), R.file),
  );

  server.registerTool(
    'file_write',
    {
      title: 'Write a file',
      description: 'Creates or overwrites a file of the repository with content (parent directories are created). Paths stay inside the repository and out of .git.',
      inputSchema: S.fileWriteInput(svc.cfg),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ id, path, content, encoding }) =>
      toolResult(log, 'file_write', C.FileWritten, () => writeFile(svc, agentId, id, path, decodeContent(content, encoding)), (w) => `Wrote ${w.bytes} bytes to ${w.path}.`),
  );

  server.registerTool(
    'exec',
    {
      title: 'Run a command',
      description: 'Runs a bash command in the repository directory with a timeout (capped by EXEC_TIMEOUT_MS). Any exit code is a result; stdout and stderr are each capped at MAX_OUTPUT_BYTES. With a progressToken, output arrives as progress notifications while it runs. With background true it returns a job_id at once: read the job with job_logs, stop it with job_kill.',
      inputSchema: S.ExecInput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    },
    async (input, extra) => execTool(svc, agentId, input, extra),
  );

  server.registerTool(
    'sandbox_list',
    {
      title: 'List your leases',
      description: 'Your active sandbox leases.',
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => toolResult(log, 'sandbox_list', C.LeaseList, async () => ({ sandboxes: await listLeases(svc, agentId) }), R.leases),
  );

  server.registerTool(
    'sandbox_release',
    {
      title: 'Release a lease',
      description: 'Ends a lease: uncommitted and unpushed work is discarded and the sandbox is scrubbed and returned to the pool.',
      inputSchema: S.LeaseInput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    async ({ id }) =>
      toolResult(log, 'sandbox_release', C.Released, async () => (await releaseLease(svc, agentId, id), { id, released: true as const }), (r) => `Released ${r.id}.`),
  );
}
