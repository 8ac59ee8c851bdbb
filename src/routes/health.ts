// GET /healthz: liveness plus the database state (503 with a clear body when it is down).
import { z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { subApp } from './app-types.ts';

/** The health sub-app. */
export const healthApp = subApp();
healthApp.get('/healthz', async (c) => {
  const t0 = Date.now();
  try {
    await Promise.race([
      c.var.svc.db().execute(sql`select 1`),
      new Promise((_, rej) => setTimeout(() => rej(new Error('timed out after 3000 ms')), 3000)),
    ]);
    return c.json({ status: 'ok', database: { status: 'up', latency_ms: Date.now() - t0 } }, 200);
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).slice(0, 200);
    c.var.svc.log.warn('health_database_down', { error: reason });
    return c.json(
      { status: 'degraded', database: { status: 'down' }, error: { code: 'DATABASE_UNAVAILABLE', message: 'the database is unreachable' } },
      503,
    );
  }
});

const Health = z
  .object({
    status: z.enum(['ok', 'degraded']),
    database: z.object({ status: z.enum(['up', 'down']), latency_ms: z.number().optional() }),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .openapi('Health');

healthApp.openAPIRegistry.registerPath({
  method: 'get', path: '/healthz', operationId: 'getHealth', tags: ['service'], security: [],
  summary: 'Liveness and the database state (no authentication)',
  responses: {
    200: { description: 'Up', content: { 'application/json': { schema: Health } } },
    503: { description: 'The database is unreachable (`status: "degraded"`)', content: { 'application/json': { schema: Health } } },
  },
});
