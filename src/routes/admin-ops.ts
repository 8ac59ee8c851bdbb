// /v1/admin operations, guarded by ADMIN_TOKEN: drain and resume the pool, list every active lease,
// rotate an API key with a grace period.
import { createRoute, z } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import { requireToken } from '../services/auth.ts';
import { activeLeasePage, drainPools, resumePools } from '../services/pools.ts';
import { DEFAULT_GRACE_S, rotateApiKey } from '../services/key-rotation.ts';
import { leaseView } from '../services/leases.ts';
import { ErrorBody, Lease } from '../contract.ts';
import { subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const adminSecurity = [{ admin: [] as string[] }];
const unauthorized = { 401: json(ErrorBody, 'Bad admin token') };

const DrainReport = z
  .object({ draining: z.literal(true), force: z.boolean(), idle_terminated: z.number().int(), leases_ended: z.number().int(), leases_active: z.number().int() })
  .openapi('DrainReport');

const drain = createRoute({
  method: 'post',
  path: '/v1/admin/pool/drain',
  operationId: 'adminDrainPool',
  tags: ['admin'],
  security: adminSecurity,
  summary: 'Drain the pool: no new leases (503 POOL_EXHAUSTED, "draining"), idle sandboxes terminated, leases run out; force=true ends them too',
  request: { query: z.object({ force: z.enum(['true', 'false']).optional() }) },
  responses: { 200: json(DrainReport, 'Draining'), 400: json(ErrorBody, 'Invalid input'), ...unauthorized },
});

const resume = createRoute({
  method: 'post',
  path: '/v1/admin/pool/resume',
  operationId: 'adminResumePool',
  tags: ['admin'],
  security: adminSecurity,
  summary: 'End a drain: leases are granted again and the pool refills',
  responses: { 200: json(z.object({ draining: z.literal(false) }), 'Resumed'), ...unauthorized },
});

/** A page cursor: the last lease's grant time and id. */
const CURSOR = /^(\d{1,16})\.(sbx_[0-9a-f]{24})$/;

const leases = createRoute({
  method: 'get',
  path: '/v1/admin/leases',
  operationId: 'adminListLeases',
  tags: ['admin'],
  security: adminSecurity,
  summary: "Every agent's active leases, oldest first, paginated (no credentials or provider ids)",
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(500).optional(),
      cursor: z.string().regex(CURSOR, 'must be a next_cursor from a previous page').optional(),
    }),
  },
  responses: { 200: json(z.object({ leases: z.array(Lease), next_cursor: z.string().nullable() }), 'Active leases'), 400: json(ErrorBody, 'Invalid input'), ...unauthorized },
});

const rotate = createRoute({
  method: 'post',
  path: '/v1/admin/keys/{id}/rotate',
  operationId: 'adminRotateKey',
  tags: ['admin'],
  security: adminSecurity,
  summary: 'Issue a new key for the same agent; the old key keeps working for grace_s seconds (default 3600)',
  request: {
    params: z.object({ id: z.string().min(1).max(100) }),
    body: { required: false, content: { 'application/json': { schema: z.object({ grace_s: z.number().int().min(0).max(30 * 86_400).optional() }).strict() } } },
  },
  responses: {
    201: json(z.object({ id: z.string(), agent_id: z.string(), key: z.string(), created_at: z.string(), previous: z.object({ id: z.string(), expires_at: z.string() }) }), 'Rotated'),
    400: json(ErrorBody, 'Invalid input'),
    404: json(ErrorBody, 'Unknown, revoked or expired key'),
    ...unauthorized,
  },
});

/** The admin operations sub-app. */
export const adminOpsApp = subApp();
adminOpsApp.use('/v1/admin/*', async (c, next) => {
  requireToken(c.req.header('authorization'), c.var.svc.cfg.ADMIN_TOKEN, 'admin');
  await next();
});
adminOpsApp
  .openapi(drain, async (c) => {
    const report = await drainPools(c.env, c.req.valid('query').force === 'true');
    c.var.svc.log.warn('pool_drain_requested', { ...report });
    return c.json(report, 200);
  })
  .openapi(resume, async (c) => {
    const r = await resumePools(c.env);
    c.var.svc.log.warn('pool_resume_requested', {});
    return c.json(r, 200);
  })
  .openapi(leases, async (c) => {
    const q = c.req.valid('query');
    const limit = q.limit ?? 100;
    const m = q.cursor ? CURSOR.exec(q.cursor) : null;
    if (q.cursor && !m) throw new AppError('BAD_REQUEST', 'cursor: must be a next_cursor from a previous page');
    const page = await activeLeasePage(c.env, limit, m ? { createdAt: Number(m[1]), id: m[2] } : undefined);
    const last = page.at(-1);
    return c.json({ leases: page.map(leaseView), next_cursor: page.length === limit && last ? `${last.created_at}.${last.id}` : null }, 200);
  })
  .openapi(rotate, async (c) => {
    const key = await rotateApiKey(c.var.svc, c.req.valid('param').id, c.req.valid('json').grace_s ?? DEFAULT_GRACE_S);
    return c.json(key, 201, { Location: `/v1/admin/keys/${key.id}` });
  });
