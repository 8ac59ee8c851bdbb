// The OpenAPI document of the REST API: the routes' own definitions, plus what the shared layers
// add to every operation (the auth middleware's 401/429, the body limit's 413, outages' 503, the
// error body, Retry-After, WWW-Authenticate, Location), and the server it is served for.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { ErrorBody } from '../contract.ts';
import type { AppEnv } from './app-types.ts';

/** The generated document's type. */
export type OpenApiDocument = ReturnType<OpenAPIHono<AppEnv>['getOpenAPI31Document']>;

/** The document's fixed top: version, info and the tags operations are grouped by. */
export const API_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'git-sandbox',
    version: '0.1.0',
    description:
      'Leases git-ready sandboxes to AI coding agents and lands their commits safely. Authenticate with `Authorization: Bearer <key>`; ' +
      'every failure is `{"error":{"code","message",…}}` with a stable code. The same tools are served over MCP at `/mcp`.',
    license: { name: 'UNLICENSED', identifier: 'UNLICENSED' },
  },
  tags: [
    { name: 'leases', description: 'Lease, list, renew and release sandboxes with a repository cloned.' },
    { name: 'git', description: 'Status, diffs, history, pulls and pushes in a leased repository.' },
    { name: 'files', description: 'Read, write, list and search files of a leased repository.' },
    { name: 'exec', description: 'Run commands in a leased repository.' },
    { name: 'pull-requests', description: 'Pull requests opened by pushes.' },
    { name: 'history', description: 'Your past git operations.' },
    { name: 'admin', description: 'API keys and pool operations (ADMIN_TOKEN).' },
    { name: 'service', description: 'Health and metrics.' },
  ],
};

type Json = Record<string, any>;
const ERROR = { $ref: '#/components/schemas/Error' };
const errorContent = { 'application/json': { schema: ERROR } };
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });

/** Headers the shared layers set, referenced from the responses that carry them. */
const HEADERS: Json = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } },
  'WWW-Authenticate': {
    description: 'The Bearer challenge: `Bearer realm="git-sandbox", error="invalid_token", error_description="…"` saying what is wrong with the key',
    schema: { type: 'string' },
  },
  Location: { description: 'Path of the created resource', schema: { type: 'string' } },
};

/** Where an operation sits: its path template and method. */
interface Where {
  path: string;
  method: string;
}

/** Operations that reach the lease's sandbox (its history is read from the database). */
const onLease = (w: Where) => w.path.startsWith('/v1/sandboxes/{id}/') && !w.path.endsWith('/operations');
const secured = (op: Json) => !!op.security?.length;

/** Responses an operation can get from the shared layers, added where the route does not list its own. */
const COMMON: Record<string, { description: string; when: (op: Json, w: Where) => boolean }> = {
  '401': { description: 'UNAUTHORIZED: missing, invalid or revoked token', when: secured },
  '403': { description: 'FORBIDDEN: this endpoint\'s token is not configured', when: (op) => !!op.security?.some((s: Json) => 'admin' in s || 'metrics' in s) },
  '409': { description: 'LEASE_NOT_READY: the lease is still being prepared', when: (_, w) => onLease(w) },
  '413': { description: 'PAYLOAD_TOO_LARGE: the body exceeds MAX_BODY_BYTES', when: (op) => !!op.requestBody },
  '429': { description: 'RATE_LIMITED: too many failed authentications from this client', when: secured },
  '502': {
    description: 'SANDBOX_UNAVAILABLE, GIT_FAILED, CLONE_FAILED, PUSH_REJECTED or PROVIDER_ERROR: the sandbox or an upstream failed',
    when: (_, w) => onLease(w) || (w.path === '/v1/sandboxes' && w.method === 'post'),
  },
  '503': { description: 'DATABASE_UNAVAILABLE or SERVICE_UNAVAILABLE: retry after Retry-After', when: () => true },
};

/** Adds the shared layers' responses and headers to one operation. */
function completeOperation(op: Json, where: Where): void {
  const responses: Json = (op.responses ??= {});
  for (const [status, c] of Object.entries(COMMON)) {
    if (!responses[status] && c.when(op, where)) responses[status] = { description: c.description };
  }
  for (const [status, r] of Object.entries(responses) as [string, Json][]) {
    const code = Number(status);
    if (code >= 400 && !r.content) r.content = errorContent;
    if (code === 401) (r.headers ??= {})['WWW-Authenticate'] ??= header('WWW-Authenticate');
    if (code === 423 || code === 429 || code === 503) (r.headers ??= {})['Retry-After'] ??= header('Retry-After');
    if (code === 201) (r.headers ??= {}).Location ??= header('Location');
  }
  // Sorted by status, so the added ones sit among the route's own.
  op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/** Registers the security schemes and the shared error schema on `app`. */
export function registerContractComponents(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.register('Error', ErrorBody);
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An agent API key (`gsk_…`)' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'admin', { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN secret' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'metrics', { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN secret' });
}

const cache = new WeakMap<OpenAPIHono<AppEnv>, string>();

/** The complete document of `app`, served from `serverUrl` (an absolute URL, or `/` for the serving origin). */
export function openApiDocument(app: OpenAPIHono<AppEnv>, serverUrl: string): OpenApiDocument {
  let base = cache.get(app);
  if (!base) {
    const doc = app.getOpenAPI31Document(API_INFO) as Json;
    for (const [path, ops] of Object.entries(doc.paths ?? {}) as [string, Json][]) {
      for (const [method, op] of Object.entries(ops) as [string, Json][]) completeOperation(op, { path, method });
    }
    doc.components = { ...doc.components, headers: HEADERS };
    base = JSON.stringify(doc);
    cache.set(app, base);
  }
  const doc = JSON.parse(base) as OpenApiDocument;
  return { ...doc, servers: [{ url: serverUrl, description: serverUrl === '/' ? 'the deployment serving this document' : 'this deployment' }] };
}
