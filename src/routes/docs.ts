// GET /openapi.json (the complete document, its server this deployment) and GET /docs (the Redoc
// page built from the document by `npm run client:gen`, served from the static assets).
import type { OpenAPIHono } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import type { AppEnv } from './app-types.ts';
import { openApiDocument, registerContractComponents } from './openapi.ts';

/** The docs page's policy: everything is inline, nothing is loaded from another origin. */
const DOCS_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The base URL clients should call: PUBLIC_URL when set, else the origin the request reached. */
export function serverUrl(publicUrl: string, requestUrl: string): string {
  return (publicUrl || new URL(requestUrl).origin).replace(/\/+$/, '');
}

/** Registers the OpenAPI document and the docs page on `app`. */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  registerContractComponents(app);
  app.get('/openapi.json', (c) => c.json(openApiDocument(app, serverUrl(c.var.svc.cfg.PUBLIC_URL, c.req.url))));
  app.get('/docs', async (c) => {
    const page = await c.env.ASSETS.fetch(new URL('/docs.html', c.req.url));
    if (!page.ok) throw new AppError('INTERNAL', 'the docs page is missing from the static assets (`npm run client:gen` builds it)');
    return new Response(page.body, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': DOCS_CSP, 'cache-control': 'public, max-age=300' } });
  });
}
