// /v1/sandboxes/{id}/files/{path}: read, write and delete repo-relative files (raw bytes).
import { Hono } from 'hono';
import { AppError } from '../errors.ts';
import { deleteFile, readFilePart, writeFile } from '../services/files.ts';
import { LEASE_ID_PATTERN } from '../contract.ts';
import type { AppEnv } from './app-types.ts';

function params(c: { req: { param(k: string): string | undefined; path: string } }): { id: string; path: string } {
  const id = c.req.param('id') ?? '';
  if (!LEASE_ID_PATTERN.test(id)) throw new AppError('BAD_REQUEST', 'id: must be a lease id like sbx_…', { details: { field: 'id' } });
  const marker = `/files/`;
  const raw = c.req.path.slice(c.req.path.indexOf(marker) + marker.length);
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    throw new AppError('INVALID_PATH', 'path is not valid percent-encoding', { details: { field: 'path' } });
  }
  return { id, path };
}

/** The files sub-app (plain Hono: the path parameter spans slashes). */
export const filesApp = new Hono<AppEnv>()
  .get('/v1/sandboxes/:id/files/*', async (c) => {
    const { id, path } = params(c);
    const { bytes, truncated } = await readFilePart(c.var.svc, c.var.agentId, id, path);
    // A file over MAX_OUTPUT_BYTES comes back cut at that size, flagged by X-Truncated.
    return c.body(bytes.slice().buffer, 200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'x-truncated': String(truncated) });
  })
  .put('/v1/sandboxes/:id/files/*', async (c) => {
    const { id, path } = params(c);
    const body = new Uint8Array(await c.req.arrayBuffer());
    return c.json(await writeFile(c.var.svc, c.var.agentId, id, path, body), 200);
  })
  .delete('/v1/sandboxes/:id/files/*', async (c) => {
    const { id, path } = params(c);
    await deleteFile(c.var.svc, c.var.agentId, id, path);
    return c.body(null, 204);
  });
