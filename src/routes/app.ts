// Assembles the Hono app: per-request context, body limit, auth, sub-apps, the one error handler.
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { AppError, isAppError } from '../errors.ts';
import { authenticate } from '../services/auth.ts';
import { createServiceContext } from '../services/context.ts';
import { mcpApp } from '../mcp/route.ts';
import { adminApp } from './admin.ts';
import { adminKeysApp } from './admin-keys.ts';
import { adminOpsApp } from './admin-ops.ts';
import type { AppEnv } from './app-types.ts';
import { validationError } from './app-types.ts';
import { mountDocs } from './docs.ts';
import { errorResponse } from './error-response.ts';
import { filesApp } from './files.ts';
import { gatewayApp } from './gateway.ts';
import { gitApp } from './git.ts';
import { healthApp } from './health.ts';
import { historyApp } from './history.ts';
import { jobsApp } from './jobs.ts';
import { metricsApp } from './metrics.ts';
import { allowedMethods, type AllowedMethods } from './method-not-allowed.ts';
import { finishRequest, requestIdOf } from './observe.ts';
import { pullRequestsApp } from './pull-requests.ts';
import { readApp } from './read.ts';
import { sandboxesApp } from './sandboxes.ts';

/** Builds the Worker's Hono app. */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error as never);
    },
  });

  app.use('*', async (c, next) => {
    const startedAt = Date.now();
    const svc = createServiceContext(c.env, (p) => c.executionCtx.waitUntil(p), requestIdOf(c.req.raw));
    c.set('svc', svc);
    try {
      await next();
    } finally {
      finishRequest(c, startedAt);
      c.executionCtx.waitUntil(svc.close());
    }
  });
  // The git gateway streams packs of any size and authenticates with lease credentials, so it is
  // mounted before the JSON body limit and the API-key middleware.
  app.route('/', gatewayApp);
  app.use('*', async (c, next) =>
    bodyLimit({
      maxSize: c.var.svc.cfg.MAX_BODY_BYTES,
      onError: () => {
        throw new AppError('PAYLOAD_TOO_LARGE', `request body exceeds ${c.var.svc.cfg.MAX_BODY_BYTES} bytes (MAX_BODY_BYTES)`);
      },
    })(c, next),
  );
  // `/x/*` also matches `/x` itself, so each prefix is listed once (listing both authenticated twice).
  for (const path of ['/v1/sandboxes/*', '/v1/operations/*', '/mcp/*']) {
    app.use(path, async (c, next) => {
      c.set('agentId', await authenticate(c.var.svc, c.req.header('authorization'), c.req.header('cf-connecting-ip') ?? 'unknown'));
      await next();
    });
  }

  app.route('/', healthApp);
  app.route('/', metricsApp);
  app.route('/', adminApp);
  app.route('/', adminOpsApp);
  app.route('/', adminKeysApp);
  app.route('/', sandboxesApp);
  app.route('/', gitApp);
  app.route('/', jobsApp);
  app.route('/', pullRequestsApp);
  app.route('/', filesApp);
  app.route('/', readApp);
  app.route('/', historyApp);
  app.route('/', mcpApp);
  mountDocs(app);
  app.get('/', (c) => c.json({ service: 'git-sandbox', docs: '/docs', openapi: '/openapi.json', health: '/healthz' }));

  let allowed: AllowedMethods | undefined;
  app.notFound((c) => {
    const allow = (allowed ??= allowedMethods(app))(c.req.path);
    if (!allow.length) return errorResponse(c, new AppError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`));
    c.header('Allow', allow.join(', '));
    return errorResponse(c, new AppError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow.join(', ')}`, { details: { allow } }));
  });
  app.onError((err, c) => {
    const log = c.var.svc?.log;
    let e: AppError;
    if (isAppError(err)) e = err;
    else if (err instanceof HTTPException) e = new AppError(err.status === 401 ? 'UNAUTHORIZED' : 'BAD_REQUEST', err.message || 'bad request');
    else if (err instanceof SyntaxError) e = new AppError('BAD_REQUEST', 'malformed JSON body');
    // A Durable Object reset or overload mid-call: nothing is known to have happened, so retry.
    else if (err && typeof err === 'object' && ((err as { retryable?: boolean }).retryable || (err as { overloaded?: boolean }).overloaded)) {
      e = new AppError('SERVICE_UNAVAILABLE', 'the service was interrupted mid-request; retry', { retryAfterS: 1, internal: String(err) });
    }
    else {
      log?.error('unhandled_error', { path: c.req.path, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
      e = new AppError('INTERNAL', 'internal error');
    }
    if (e.status >= 500) log?.warn('request_failed', { path: c.req.path, code: e.code, internal: e.internal?.slice(0, 500) });
    return errorResponse(c, e);
  });
  return app;
}
