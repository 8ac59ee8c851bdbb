// GET /healthz: liveness plus the database state (503 with a clear body when it is down).
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { AppEnv } from './app-types.ts';

/** The health sub-app. */
export const healthApp = new Hono<AppEnv>().get('/healthz', async (c) => {
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
