// GET /metrics: Prometheus text, guarded by METRICS_TOKEN. Numbers come from the Durable Objects
// that keep them (the PoolCoordinator and the MetricsHub); Postgres only gets a `select 1` probe.
import { z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { metricsHub } from '../durable/metrics-hub.ts';
import { renderMetrics } from '../metrics/exposition.ts';
import { requireToken } from '../services/auth.ts';
import type { ServiceContext } from '../services/context.ts';
import { poolStats } from '../services/pools.ts';
import { subApp } from './app-types.ts';

/** How long the database probe may take before the scrape reports it down. */
const PROBE_TIMEOUT_MS = 2000;

/** Whether Postgres answers `select 1` within the probe timeout. */
async function databaseUp(svc: ServiceContext): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      svc.db().execute(sql`select 1`),
      new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('probe timed out')), PROBE_TIMEOUT_MS))),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The metrics sub-app. */
export const metricsApp = subApp();
metricsApp.get('/metrics', async (c) => {
  requireToken(c.req.header('authorization'), c.var.svc.cfg.METRICS_TOKEN, 'metrics');
  const [pool, hub, up] = await Promise.all([poolStats(c.env), metricsHub(c.env).snapshot(), databaseUp(c.var.svc)]);
  return c.text(renderMetrics({ pool, hub, databaseUp: up }), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
});

metricsApp.openAPIRegistry.registerPath({
  method: 'get', path: '/metrics', operationId: 'getMetrics', tags: ['service'], security: [{ metrics: [] }],
  summary: 'Prometheus text exposition of the pool, request, git, lock and landing metrics',
  responses: {
    200: { description: 'Metrics', content: { 'text/plain': { schema: z.string().openapi({ description: 'Prometheus text format 0.0.4' }) } } },
    403: { description: 'FORBIDDEN: METRICS_TOKEN is not configured' },
  },
});
