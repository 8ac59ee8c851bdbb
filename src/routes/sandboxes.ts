// /v1/sandboxes: create, list, read, renew and release leases.
import { createRoute, z } from '@hono/zod-openapi';
import { CreateBody, ErrorBody, Lease, LeaseId, LeaseList, RenewBody } from '../contract.ts';
import { NO_CONTROL, hasNoControl } from '../git/validate.ts';
import { LeaseState } from '../contract-read.ts';
import { leaseState } from '../services/history.ts';
import { createLease, listLeases, releaseLease, renewLease } from '../services/leases.ts';
import { errorResponses, security, subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const create = createRoute({
  method: 'post',
  path: '/v1/sandboxes',
  operationId: 'createLease',
  tags: ['leases'],
  security,
  summary: 'Lease a git-ready sandbox',
  request: {
    headers: z.object({ 'idempotency-key': z.string().min(1).max(200).refine((s) => hasNoControl(s), NO_CONTROL).optional() }),
    body: { required: true, content: { 'application/json': { schema: CreateBody } } },
  },
  responses: {
    201: json(Lease, 'The lease, with the repo cloned and the agent branch checked out'),
    202: json(Lease, 'The lease, status initializing: the clone goes on in the background (wait false, or over ~20 s); poll GET /v1/sandboxes/{id} until ready, or error with the reason'),
    ...errorResponses,
    403: json(ErrorBody, 'Repository not in ALLOWED_REPOS'),
    422: json(ErrorBody, 'IDEMPOTENCY_MISMATCH: the Idempotency-Key was used with another body'),
    429: json(ErrorBody, 'TOO_MANY_LEASES (MAX_LEASES_PER_AGENT reached) or RATE_LIMITED (see Retry-After)'),
    503: json(ErrorBody, 'POOL_EXHAUSTED (see Retry-After)'),
  },
});

const list = createRoute({
  method: 'get',
  path: '/v1/sandboxes',
  operationId: 'listLeases',
  tags: ['leases'],
  security,
  summary: "The caller's active leases",
  responses: { 200: json(LeaseList, 'Active leases'), ...errorResponses },
});

const get = createRoute({
  method: 'get',
  path: '/v1/sandboxes/{id}',
  operationId: 'getLease',
  tags: ['leases'],
  security,
  summary: 'One lease: active, or its final record once ended (released, expired, terminated or error)',
  request: { params: z.object({ id: LeaseId }) },
  responses: { 200: json(LeaseState, 'The lease'), ...errorResponses },
});

const renew = createRoute({
  method: 'post',
  path: '/v1/sandboxes/{id}/renew',
  operationId: 'renewLease',
  tags: ['leases'],
  security,
  summary: 'Extend a lease',
  request: {
    params: z.object({ id: LeaseId }),
    body: { required: false, content: { 'application/json': { schema: RenewBody } } },
  },
  responses: { 200: json(Lease, 'The lease with its new expires_at'), ...errorResponses },
});

const release = createRoute({
  method: 'delete',
  path: '/v1/sandboxes/{id}',
  operationId: 'releaseLease',
  tags: ['leases'],
  security,
  summary: 'Release a lease (the sandbox is scrubbed and returned to the pool)',
  request: { params: z.object({ id: LeaseId }) },
  responses: { 204: { description: 'Released' }, ...errorResponses },
});

/** The leases sub-app. */
export const sandboxesApp = subApp()
  .openapi(create, async (c) => {
    const body = c.req.valid('json');
    const idem = c.req.valid('header')['idempotency-key'];
    const lease = await createLease(c.var.svc, c.var.agentId, body, idem);
    const location = { Location: `/v1/sandboxes/${lease.id}` };
    return lease.status === 'initializing' ? c.json(lease, 202, location) : c.json(lease, 201, location);
  })
  .openapi(list, async (c) => c.json({ sandboxes: await listLeases(c.var.svc, c.var.agentId) }, 200))
  .openapi(get, async (c) => c.json(await leaseState(c.var.svc, c.var.agentId, c.req.valid('param').id), 200))
  .openapi(renew, async (c) => {
    let ttl: number | undefined;
    if (c.req.header('content-type')?.includes('json')) ttl = c.req.valid('json')?.ttl_s;
    return c.json(await renewLease(c.var.svc, c.var.agentId, c.req.valid('param').id, ttl), 200);
  })
  .openapi(release, async (c) => {
    await releaseLease(c.var.svc, c.var.agentId, c.req.valid('param').id);
    return c.body(null, 204);
  });
