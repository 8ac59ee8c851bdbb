// History of the caller's work: GET /v1/sandboxes/{id}/operations (one lease's git operations) and
// GET /v1/operations (the caller's operations across leases), paginated by keyset on the row id.
import { createRoute, z } from '@hono/zod-openapi';
import { AgentOperationsQuery, OperationPage, OperationsQuery } from '../contract-read.ts';
import { LeaseId } from '../contract.ts';
import { agentOperations, leaseOperations } from '../services/history.ts';
import { errorResponses, security, subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const { 410: _gone, ...historyErrors } = errorResponses;

const leaseOps = createRoute({
  method: 'get', path: '/v1/sandboxes/{id}/operations', operationId: 'listLeaseOperations', tags: ['history'], security,
  summary: "One of your leases' git operations, oldest first (active or ended; another agent's lease is a 404)",
  request: { params: z.object({ id: LeaseId }), query: OperationsQuery },
  responses: { 200: json(OperationPage, 'A page of operations'), ...historyErrors },
});
const agentOps = createRoute({
  method: 'get', path: '/v1/operations', operationId: 'listOperations', tags: ['history'], security,
  summary: 'Your git operations across leases, oldest first, optionally on one repository and since a time',
  request: { query: AgentOperationsQuery },
  responses: { 200: json(OperationPage, 'A page of operations'), ...historyErrors },
});

/** The history sub-app. */
export const historyApp = subApp()
  .openapi(leaseOps, async (c) => c.json(await leaseOperations(c.var.svc, c.var.agentId, c.req.valid('param').id, c.req.valid('query')), 200))
  .openapi(agentOps, async (c) => c.json(await agentOperations(c.var.svc, c.var.agentId, c.req.valid('query')), 200));
