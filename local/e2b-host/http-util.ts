// Small node:http helpers shared by the control plane and envd handlers: body reading
// (chunked and gzip request bodies), JSON/empty responses and the REST error shape.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

/** An error that maps straight onto an HTTP response (REST shape `{"code":N,"message":...}`). */
export class HttpError extends Error {
  status: number;
  headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** The request body as a stream, transparently gunzipped when `Content-Encoding: gzip`. */
export function bodyStream(req: IncomingMessage): Readable {
  const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
  if (enc === 'gzip' || enc === 'x-gzip') return req.pipe(createGunzip());
  return req;
}

/** Reads the whole (possibly chunked, possibly gzipped) request body. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const src = bodyStream(req);
    const chunks: Buffer[] = [];
    src.on('data', (c: Buffer) => chunks.push(c));
    src.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    src.on('error', reject);
    if (src !== req) req.on('error', reject);
  });
}

/** Reads a JSON request body; an empty body is `{}`. Throws HttpError(400) on bad JSON. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const buf = await readBody(req);
  if (buf.length === 0) return {};
  try {
    const v = JSON.parse(buf.toString('utf8'));
    return v && typeof v === 'object' ? v : {};
  } catch {
    throw new HttpError(400, 'invalid JSON body');
  }
}

/** Sends a JSON body with an explicit Content-Length (never chunked, so `.json()` works). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(buf.length), ...headers });
  res.end(buf);
}

/** Sends a bodiless response (204 by default). */
export function sendEmpty(res: ServerResponse, status = 204, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, headers);
  res.end();
}

/** Sends the REST error body the SDK classifies by (`{"code":<status>,"message":...}`). */
export function sendRestError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { code: status, message }, headers);
}

/** Drains and discards a request body so a keep-alive connection stays usable. */
export function drain(req: IncomingMessage): void {
  if (!req.complete) req.resume();
}

/** The user named by `Authorization: Basic base64("<user>:")` (how the SDK picks the envd user). */
export function basicAuthUser(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string' || !/^basic /i.test(auth)) return undefined;
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? decoded : decoded.slice(0, i);
}
