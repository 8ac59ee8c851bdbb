// Builds the MCP server for one request: server info, instructions for the model, the tools.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { ServiceContext } from '../services/context.ts';
import { registerTools } from './tools.ts';
import { registerJobTools } from './tools-jobs.ts';
import { registerLeaseStateTool } from './tools-lease-state.ts';
import { registerPullRequestTools } from './tools-pull-request.ts';
import { registerReadTools } from './tools-read.ts';

const INSTRUCTIONS = `git-sandbox leases cloud sandboxes with a repository cloned and a branch of your own checked out.
Start with git_clone (repo_url, task_id); it returns a lease whose id every other tool takes.
Edit with file_write or exec, inspect with git_status, git_diff and file_read, then git_push
(target "agent_branch" by default, "base" to land on the base branch with strategy rebase, merge or
squash, "pull_request" to open or update a pull request; follow it with pull_request_status).
A MERGE_CONFLICT error lists the conflicting paths; the rebase was aborted, your tree is unchanged and
origin/<branch> holds the latest tip. To resolve: exec "git rebase origin/<branch>", fix the listed
files, exec "git add <paths> && GIT_EDITOR=true git rebase --continue", then git_push again.
Long commands: exec with background true returns a job_id at once; read it with job_logs (pass
next_since back as since) and stop it with job_kill. A git_clone that takes long answers with the
lease initializing; check it with sandbox_get until it is ready.
Errors carry a stable code (structuredContent.error.code). Call sandbox_release when you are done.`;

// The server validates JSON Schema only for elicitation, which no tool requests; building Ajv costs
// ~0.3 ms of CPU, so one lazily built instance serves every request of the isolate.
let validator: AjvJsonSchemaValidator | undefined;

/** A fresh MCP server whose tools act as `agentId` through `svc`. */
export function createMcpServer(svc: ServiceContext, agentId: string): McpServer {
  const server = new McpServer({ name: 'git-sandbox', version: '0.1.0' }, {
    instructions: INSTRUCTIONS,
    capabilities: { tools: {} },
    jsonSchemaValidator: (validator ??= new AjvJsonSchemaValidator()),
  });
  registerTools(server, svc, agentId);
  registerPullRequestTools(server, svc, agentId);
  registerReadTools(server, svc, agentId);
  registerJobTools(server, svc, agentId);
  registerLeaseStateTool(server, svc, agentId);
  return server;
}
