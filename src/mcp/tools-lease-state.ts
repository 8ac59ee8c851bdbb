// The sandbox_get MCP tool: one lease's state, as GET /v1/sandboxes/{id} answers it, so a client
// whose git_clone answered "initializing" can follow the clone to ready (or to error, with why).
import { z } from '@hono/zod-openapi';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { LeaseState } from '../contract-read.ts';
import { LEASE_ID_PATTERN } from '../contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { leaseState } from '../services/history.ts';
import * as R from './render.ts';
import { toolResult } from './results.ts';

/** Registers sandbox_get on `server`, bound to the authenticated agent. */
export function registerLeaseStateTool(server: McpServer, svc: ServiceContext, agentId: string): void {
  server.registerTool(
    'sandbox_get',
    {
      title: 'One lease',
      description: 'One of your leases: initializing (the clone is still running), ready or in_use; or its final record once ended (released, expired, terminated, or error with the reason in error).',
      inputSchema: { id: z.string().regex(LEASE_ID_PATTERN, 'must be a lease id like sbx_…').describe('lease id returned by git_clone (sbx_…)') },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ id }) => toolResult(svc.log, 'sandbox_get', LeaseState, () => leaseState(svc, agentId, id), (l) => (l.status === 'initializing' || l.error ? R.lease(l) : `Lease ${l.id} is ${l.status}.`)),
  );
}
