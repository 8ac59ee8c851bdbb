// GET /metrics: Prometheus text, guarded by METRICS_TOKEN.
import { Hono } from 'hono';
import { renderOperations, renderPool } from '../metrics/prometheus.ts';
import { requireToken } from '../services/auth.ts';
import { poolStub } from '../services/context.ts';
import type { AppEnv } from './app-types.ts';

/** The metrics sub-app. */
export const metricsApp = new Hono<AppEnv>().get('/metrics', async (c) => {
  requireToken(c.req.header('authorization'), c.var.svc.cfg.METRICS_TOKEN, 'metrics');
  const lines = renderPool(await poolStub(c.env).stats());
  try {
    lines.push(...(await renderOperations(c.var.svc.db())));
    lines.push('git_sandbox_database_up 1');
  } catch {
    lines.push('git_sandbox_database_up 0');
  }
  return c.text(`${lines.join('\n')}\n`, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
});
