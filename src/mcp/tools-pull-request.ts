// The MCP tool that follows a lease's pull request: the same service as GET /v1/sandboxes/{id}/pull_request.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import * as C from '../contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { pullRequestStatus } from '../services/pull-requests.ts';
import { toolResult } from './results.ts';
import { LeaseInput } from './schemas.ts';

/** A pull request, as the model reads it. */
export function renderPullRequest(p: C.PullRequest): string {
  const flags = [p.draft ? 'draft' : '', p.auto_merge ? 'auto-merge enabled' : '', p.merge_commit_sha ? `merge commit ${p.merge_commit_sha.slice(0, 12)}` : ''].filter(Boolean);
  const note = p.note ? `\n${p.note}` : '';
  return `Pull request #${p.number} (${p.head_branch} -> ${p.base_branch}) is ${p.state}${flags.length ? ` (${flags.join(', ')})` : ''}: ${p.url} (checked ${p.checked_at}).${note}`;
}

/** Registers pull_request_status on `server`, bound to the authenticated agent. */
export function registerPullRequestTools(server: McpServer, svc: ServiceContext, agentId: string): void {
  server.registerTool(
    'pull_request_status',
    {
      title: 'Pull request status',
      description: 'The pull request your git_push with target "pull_request" opened for this lease: number, URL, state (open, merged or closed), draft, auto-merge. Read again from GitHub when more than a few seconds old; works after the lease ended.',
      inputSchema: LeaseInput,
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async ({ id }) => toolResult(svc.log, 'pull_request_status', C.PullRequest, () => pullRequestStatus(svc, agentId, id), renderPullRequest),
  );
}
