// GET /v1/admin/keys, guarded by ADMIN_TOKEN: every API key's id, agent and lifetime (no secrets).
import { createRoute, z } from '@hono/zod-openapi';
import { ErrorBody } from '../contract.ts';
import { KeyPage, KeysQuery } from '../contract-read.ts';
import { requireToken } from '../services/auth.ts';
import { listApiKeys } from '../services/key-list.ts';
import { subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const keys = createRoute({
  method: 'get', path: '/v1/admin/keys', operationId: 'adminListKeys', tags: ['admin'], security: [{ admin: [] as string[] }],
  summary: 'API keys, oldest first, paginated: id, agent_id, created_at, revoked_at, expires_at (never the key or its hash)',
  request: { query: KeysQuery },
  responses: { 200: json(KeyPage, 'A page of keys'), 400: json(ErrorBody, 'Invalid input'), 401: json(ErrorBody, 'Bad admin token') },
});

/** The admin key-listing sub-app. */
export const adminKeysApp = subApp();
adminKeysApp.use('/v1/admin/keys', async (c, next) => {
  requireToken(c.req.header('authorization'), c.var.svc.cfg.ADMIN_TOKEN, 'admin');
  await next();
});
adminKeysApp.openapi(keys, async (c) => c.json(await listApiKeys(c.var.svc, c.req.valid('query')), 200));
