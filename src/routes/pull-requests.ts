// /v1/sandboxes/{id}/pull_request: the pull request a lease's push opened, followed to merged or closed.
import { createRoute, z } from '@hono/zod-openapi';
import { LeaseId, PullRequest } from '../contract.ts';
import { pullRequestStatus } from '../services/pull-requests.ts';
import { errorResponses, security, subApp } from './app-types.ts';

const get = createRoute({
  method: 'get',
  path: '/v1/sandboxes/{id}/pull_request',
  operationId: 'getPullRequest',
  tags: ['pull-requests'],
  security,
  summary: "The lease's pull request, read again from GitHub when stale (also after the lease ended)",
  request: { params: z.object({ id: LeaseId }) },
  responses: { 200: { description: 'The pull request', content: { 'application/json': { schema: PullRequest } } }, ...errorResponses },
});

/** The pull-request sub-app. */
export const pullRequestsApp = subApp().openapi(get, async (c) => c.json(await pullRequestStatus(c.var.svc, c.var.agentId, c.req.valid('param').id), 200));
