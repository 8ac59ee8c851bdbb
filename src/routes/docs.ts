// GET /openapi.json (generated from the zod route schemas) and GET /docs (a readable page of it).
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './app-types.ts';

const INFO = {
  openapi: '3.1.0',
  info: { title: 'git-sandbox', version: '0.1.0', description: 'Leases git-ready sandboxes to AI agents and lands their commits safely.' },
};

/** Registers the OpenAPI document, the docs page and the non-zod routes on `app`. */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'Agent API key' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'admin', { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' });
  for (const method of ['get', 'put', 'delete'] as const) {
    app.openAPIRegistry.registerPath({
      method,
      path: '/v1/sandboxes/{id}/files/{path}',
      summary: `${method.toUpperCase()} a repo-relative file (raw bytes); traversal, absolute paths, .git and symlink escapes → 400`,
      security: [{ bearer: [] }],
      responses: { 200: { description: 'OK' }, 204: { description: 'Deleted' }, 400: { description: 'INVALID_PATH' }, 404: { description: 'FILE_NOT_FOUND or lease not found' } },
    });
  }
  app.doc31('/openapi.json', INFO);
  app.get('/docs', (c) => {
    const doc = app.getOpenAPI31Document(INFO);
    const rows = Object.entries(doc.paths ?? {}).flatMap(([p, ops]) =>
      Object.entries(ops as Record<string, { summary?: string }>).map(([m, o]) => `<tr><td><code>${m.toUpperCase()}</code></td><td><code>${p}</code></td><td>${o.summary ?? ''}</td></tr>`),
    );
    return c.html(`<!doctype html><html><head><meta charset="utf-8"><title>git-sandbox API</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}td{padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}</style></head>
<body><h1>git-sandbox API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>. Errors are <code>{"error":{"code","message"}}</code>.</p>
<table>${rows.join('')}</table></body></html>`);
  });
}
