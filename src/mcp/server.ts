// Builds the MCP server for one request: server info, instructions for the model, the tools.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ServiceContext } from '../services/context.ts';
import { registerTools } from './tools.ts';

const INSTRUCTIONS = `git-sandbox leases cloud sandboxes with a repository cloned and a branch of your own checked out.
Start with git_clone (repo_url, task_id); it returns a lease whose id every other tool takes.
Edit with file_write / exec, inspect with git_status / git_diff / file_read, then git_push
(target "agent_branch" by default, "base" to land on the base branch). A MERGE_CONFLICT error lists
the conflicting paths and leaves your tree unchanged: git_pull, fix the files, push again.
Call sandbox_release when you are done.`;

/** A fresh MCP server whose tools act as `agentId` through `svc`. */
export function createMcpServer(svc: ServiceContext, agentId: string): McpServer {
  const server = new McpServer({ name: 'git-sandbox', version: '0.1.0' }, { instructions: INSTRUCTIONS, capabilities: { tools: {} } });
  registerTools(server, svc, agentId);
  return server;
}
