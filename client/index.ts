// The typed client of the git-sandbox REST API (`git-sandbox/client`): openapi-fetch over the types
// openapi-typescript generates from the OpenAPI document (api-types.ts, `npm run client:gen`),
// with the API key attached, plus helpers for what is not JSON (file bytes).
import createFetchClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from './api-types.ts';

export type { components, operations, paths };

/** A lease, as the API shows it. */
export type Lease = components['schemas']['Lease'];
/** The error body every failure shares: `{error: {code, message, …}}`. */
export type ErrorBody = components['schemas']['Error'];
/** The answer of a command run. */
export type ExecResult = components['schemas']['ExecResult'];
/** The answer of a push. */
export type PushResult = components['schemas']['PushResult'];

/** The typed REST client: `client.GET('/v1/sandboxes/{id}', { params: { path: { id } } })` and so on. */
export type GitSandboxClient = Client<paths>;

/** Options of createClient. */
export interface CreateClientOptions {
  /** The service's base URL, e.g. `https://git-sandbox.example.workers.dev` (a trailing slash is ignored). */
  baseUrl: string;
  /** An agent API key (`gsk_…`), sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** The fetch to use (defaults to the global one); tests route it into the Worker under test. */
  fetch?: (request: Request) => Promise<Response>;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

/** A typed client of the service at `baseUrl`, authenticated with `apiKey`. */
export function createClient(o: CreateClientOptions): GitSandboxClient {
  return createFetchClient<paths>({
    baseUrl: o.baseUrl.replace(/\/+$/, ''),
    headers: { ...o.headers, authorization: `Bearer ${o.apiKey}` },
    ...(o.fetch ? { fetch: o.fetch } : {}),
  });
}

/** A failed call: the HTTP status and the service's error code and message. */
export class GitSandboxError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: ErrorBody | undefined;

  constructor(status: number, body: ErrorBody | undefined) {
    super(body?.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${status}`);
    this.name = 'GitSandboxError';
    this.status = status;
    this.code = body?.error?.code ?? `HTTP_${status}`;
    this.body = body;
  }
}

/** The data of an openapi-fetch result, or a GitSandboxError carrying its error body. */
export function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.error !== undefined || !r.response.ok) throw new GitSandboxError(r.response.status, r.error as ErrorBody | undefined);
  return r.data as T;
}

/** Reads a repo-relative file's bytes; `truncated` when it was cut at MAX_OUTPUT_BYTES. */
export async function readFile(client: GitSandboxClient, id: string, path: string): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const r = await client.GET('/v1/sandboxes/{id}/files/{path}', { params: { path: { id, path } }, parseAs: 'arrayBuffer' });
  const data = unwrap(r) as unknown as ArrayBuffer;
  return { bytes: new Uint8Array(data), truncated: r.response.headers.get('x-truncated') === 'true' };
}

/** Creates or overwrites a repo-relative file with `content` (text is written as UTF-8). */
export async function writeFile(client: GitSandboxClient, id: string, path: string, content: Uint8Array | string): Promise<{ path: string; bytes: number }> {
  const body = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  const r = await client.PUT('/v1/sandboxes/{id}/files/{path}', {
    params: { path: { id, path } },
    // The generated type of an octet-stream body is string; the bytes go out as they are.
    body: body as unknown as string,
    bodySerializer: (b) => b,
    headers: { 'content-type': 'application/octet-stream' },
  });
  return unwrap(r);
}
