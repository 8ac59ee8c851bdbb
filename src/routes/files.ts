// /v1/sandboxes/{id}/files/{path}: read, write and delete repo-relative files (raw bytes). The
// path parameter spans slashes, so the handlers are plain Hono routes on a wildcard and their
// OpenAPI definitions are registered beside them.
import { z } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import { deleteFile, readFilePart, writeFile } from '../services/files.ts';
import { ErrorBody, FileWritten, LEASE_ID_PATTERN, LeaseId } from '../contract.ts';
import { errorResponses, security, subApp } from './app-types.ts';

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

/** The files sub-app. */
export const filesApp = subApp();
filesApp
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

/** The wildcard path parameter as OpenAPI shows it. */
const FilePath = z
  .string()
  .min(1)
  .openapi({
    param: { name: 'path', in: 'path', description: 'Repo-relative file path; it may span slashes (`src/index.ts`), sent as is or percent-encoded (`src%2Findex.ts`). Absolute paths, `..`, `.git/` and symlinks that leave the repository answer 400 INVALID_PATH.' },
    example: 'src/index.ts',
  });
const request = { params: z.object({ id: LeaseId, path: FilePath }) };
const bytes = z.string().openapi({ format: 'binary', description: 'the file\'s raw bytes' });
const invalidPath = { description: 'INVALID_PATH (traversal, absolute path, .git, symlink escape) or another invalid input', content: { 'application/json': { schema: ErrorBody } } };
const missing = { description: 'FILE_NOT_FOUND, or NOT_FOUND for an unknown lease (or another agent\'s)', content: { 'application/json': { schema: ErrorBody } } };

filesApp.openAPIRegistry.registerPath({
  method: 'get', path: '/v1/sandboxes/{id}/files/{path}', operationId: 'readFile', tags: ['files'], security,
  summary: 'Read a file as raw bytes (cut at MAX_OUTPUT_BYTES, flagged by X-Truncated)',
  request,
  responses: {
    200: {
      description: 'The file\'s bytes',
      headers: { 'X-Truncated': { description: '`true` when the file was cut at MAX_OUTPUT_BYTES', schema: { type: 'string', enum: ['true', 'false'] } } },
      content: { 'application/octet-stream': { schema: bytes } },
    },
    ...errorResponses, 400: invalidPath, 404: missing,
  },
});
filesApp.openAPIRegistry.registerPath({
  method: 'put', path: '/v1/sandboxes/{id}/files/{path}', operationId: 'writeFile', tags: ['files'], security,
  summary: 'Create or overwrite a file with the raw request body (parent directories are created)',
  request: { ...request, body: { required: true, description: 'the new content, at most MAX_BODY_BYTES', content: { 'application/octet-stream': { schema: bytes } } } },
  responses: { 200: { description: 'Written', content: { 'application/json': { schema: FileWritten } } }, ...errorResponses, 400: invalidPath },
});
filesApp.openAPIRegistry.registerPath({
  method: 'delete', path: '/v1/sandboxes/{id}/files/{path}', operationId: 'deleteFile', tags: ['files'], security,
  summary: 'Delete a file',
  request,
  responses: { 204: { description: 'Deleted' }, ...errorResponses, 400: invalidPath, 404: missing },
});
