// GET /openapi.json: the complete document, its server this deployment. The /docs page built from
// it (public/docs.html, Redoc) is served by Workers Static Assets with public/_headers.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './app-types.ts';
import { openApiDocument, registerContractComponents } from './openapi.ts';

/** The base URL clients should call: PUBLIC_URL when set, else the origin the request reached. */
export function serverUrl(publicUrl: string, requestUrl: string): string {
  return (publicUrl || new URL(requestUrl).origin).replace(/\/+$/, '');
}

/** Registers the OpenAPI document on `app`. */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  registerContractComponents(app);
  app.get('/openapi.json', (c) => c.json(openApiDocument(app, serverUrl(c.var.svc.cfg.PUBLIC_URL, c.req.url))));
}
