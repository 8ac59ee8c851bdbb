// Per-request observability: the request id (cf-ray when present), the X-Request-Id response
// header, one access-log line, and the HTTP metrics (labelled by the matched route pattern).
import type { Context } from 'hono';
import { routePath } from 'hono/route';
import { randomId } from '../lib/crypto.ts';
import { reportDeltas } from '../metrics/report.ts';
import type { AppEnv } from './app-types.ts';

/** The request's id: Cloudflare's cf-ray when present (and sane), else a random one. */
export function requestIdOf(req: Request): string {
  const ray = req.headers.get('cf-ray');
  return ray && /^[A-Za-z0-9-]{1,64}$/.test(ray) ? ray : randomId('req', 8);
}

/** The route label: the pattern Hono matched for the responding handler, never the raw path. */
export function routeLabel(c: Context<AppEnv>): string {
  return routePath(c) || 'unmatched';
}

/** Tags the response with X-Request-Id, counts and logs the request, and sends its metrics. */
export function finishRequest(c: Context<AppEnv>, startedAt: number): void {
  const svc = c.var.svc;
  try {
    c.res.headers.set('X-Request-Id', svc.requestId);
  } catch {
    // Responses passed through from fetch() have immutable headers: copy once, then tag.
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set('X-Request-Id', svc.requestId);
  }
  const route = routeLabel(c);
  const status = c.res.status;
  const seconds = (Date.now() - startedAt) / 1000;
  svc.metrics.inc('http_requests_total', { route, status });
  svc.metrics.observe('http_request_duration_seconds', seconds, { route });
  svc.log.info('request', { method: c.req.method, route, status, duration_ms: Math.round(seconds * 1000) });
  reportDeltas(c.env, svc.metrics.take(), svc.log, (p) => c.executionCtx.waitUntil(p));
}
