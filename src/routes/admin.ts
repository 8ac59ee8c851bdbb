// /v1/admin: API key management and pool inspection, guarded by ADMIN_TOKEN.
import { createRoute, z } from '@hono/zod-openapi';
import { eq } from 'drizzle-orm';
import { apiKeys } from '../db/schema.ts';
import { createApiKey, requireToken, revokeApiKey } from '../services/auth.ts';
import { endAgentLeases, poolStats } from '../services/pools.ts';
import { ErrorBody } from '../contract.ts';
import { subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const adminSecurity = [{ admin: [] as string[] }];

const createKey = createRoute({
  method: 'post',
  path: '/v1/admin/keys',
  operationId: 'adminCreateKey',
  tags: ['admin'],
  security: adminSecurity,
  summary: 'Create an API key for an agent (the key is shown only in this response)',
  request: { body: { required: true, content: { 'application/json': { schema: z.object({ agent_id: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 . _ -') }).strict() } } } },
  responses: {
    201: json(z.object({ id: z.string(), agent_id: z.string(), key: z.string(), created_at: z.string() }), 'Created'),
    400: json(ErrorBody, 'Invalid input'),
    401: json(ErrorBody, 'Bad admin token'),
  },
});

const revokeKey = createRoute({
  method: 'delete',
  path: '/v1/admin/keys/{id}',
  operationId: 'adminRevokeKey',
  tags: ['admin'],
  security: adminSecurity,
  summary: 'Revoke an API key (effective immediately; every lease of its agent ends)',
  request: { params: z.object({ id: z.string().min(1).max(100) }) },
  responses: { 204: { description: 'Revoked' }, 401: json(ErrorBody, 'Bad admin token'), 404: json(ErrorBody, 'Unknown key') },
});

const pool = createRoute({
  method: 'get',
  path: '/v1/admin/pool',
  operationId: 'adminPoolStats',
  tags: ['admin'],
  security: adminSecurity,
  summary: 'Pool gauges, counters and settings',
  responses: { 200: json(z.record(z.string(), z.unknown()), 'Pool stats'), 401: json(ErrorBody, 'Bad admin token') },
});

/** The admin sub-app. */
export const adminApp = subApp();
adminApp.use('/v1/admin/*', async (c, next) => {
  requireToken(c.req.header('authorization'), c.var.svc.cfg.ADMIN_TOKEN, 'admin');
  await next();
});
adminApp
  .openapi(createKey, async (c) => {
    const key = await createApiKey(c.var.svc, c.req.valid('json').agent_id);
    return c.json(key, 201, { Location: `/v1/admin/keys/${key.id}` });
  })
  .openapi(revokeKey, async (c) => {
    const id = c.req.valid('param').id;
    const [key] = await c.var.svc.db().select({ agentId: apiKeys.agentId }).from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
    await revokeApiKey(c.var.svc, id);
    // A revoked agent keeps nothing: its leases end now, which also kills their gateway credentials.
    if (key) {
      const ended = await endAgentLeases(c.env, key.agentId);
      c.var.svc.log.info('key_revoked', { key: id, agent: key.agentId, leases_ended: ended });
    }
    return c.body(null, 204);
  })
  .openapi(pool, async (c) => c.json((await poolStats(c.env)) as unknown as Record<string, unknown>, 200));
