// envd `GET /files` (download) and `POST /files` (multipart or octet-stream upload, gzip request
// bodies), plus v1 signed-URL verification for uploadUrl()/downloadUrl().
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HttpError, bodyStream, readBody, sendJson } from './http-util.ts';
import { boundaryOf, parseMultipart } from './multipart.ts';
import type { Sandbox, SandboxUser } from './sandbox.ts';

const SMALL_FILE = 1 << 20;

/** Checks a `v1_` signature: base64(sha256("path:op:user:token[:exp]")) without padding. */
export function validSignature(sbx: Sandbox, url: URL, op: 'read' | 'write'): boolean {
  const sig = url.searchParams.get('signature');
  if (!sig) return false;
  const exp = url.searchParams.get('signature_expiration');
  if (exp && Number(exp) * 1000 < Date.now()) return false;
  const raw = `${url.searchParams.get('path') ?? ''}:${op}:${url.searchParams.get('username') ?? ''}:${sbx.accessToken}${exp ? `:${exp}` : ''}`;
  const want = `v1_${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
  return want === sig;
}

/**
 * Maps fs errors onto envd's `/files` answers. A path the user cannot reach through the API
 * (outside /home/user and /tmp, or refused by the kernel) is envd's 500 with "permission denied".
 */
function toHttpError(err: unknown, p: string, reading: boolean): HttpError {
  if (err instanceof HttpError) return err;
  const msg = (err as Error)?.message ?? String(err);
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ENOENT': return new HttpError(404, `path '${p}' does not exist`);
    case 'EISDIR': return new HttpError(400, `path '${p}' is a directory`);
    case 'ENOTDIR': return new HttpError(400, `a parent of path '${p}' is not a directory`);
    case 'ENOSPC': return new HttpError(507, 'not enough disk space available');
    case 'EACCES': case 'EPERM': case 'EROFS': case 'ELOOP':
      return new HttpError(500, reading ? `error opening file '${p}': ${msg}` : `error opening file: ${msg}`);
    default: return new HttpError(500, `error handling file '${p}': ${msg}`);
  }
}

/** The `username` query parameter's user; unknown names are 401 like envd. */
function queryUser(sbx: Sandbox, url: URL): SandboxUser {
  const name = url.searchParams.get('username') ?? undefined;
  const u = sbx.user(name);
  if (!u) throw new HttpError(401, `error looking up user '${name}': unknown user`);
  return u;
}

/** Plain text unless the first bytes look binary (Go's http.DetectContentType, roughly). */
function sniff(buf: Buffer): string {
  const head = buf.subarray(0, 512);
  return head.includes(0) ? 'application/octet-stream' : 'text/plain; charset=utf-8';
}

/** `GET /files?path=` — raw bytes with Content-Length. */
export async function handleFilesGet(sbx: Sandbox, url: URL, res: ServerResponse): Promise<void> {
  const p = url.searchParams.get('path') ?? '';
  let shown = p;
  try {
    const user = queryUser(sbx, url);
    shown = sbx.sandboxPath(p, user);
    const { fh, size } = await sbx.fs.openRead(shown);
    if (size <= SMALL_FILE) {
      let buf: Buffer;
      try { buf = await fh.readFile(); } finally { await fh.close(); }
      res.writeHead(200, { 'content-type': sniff(buf), 'content-length': String(buf.length) });
      res.end(buf);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    // The stream closes the handle when it ends or fails.
    await pipeline(fh.createReadStream(), res);
  } catch (err) {
    if (res.headersSent) { res.destroy(); return; }
    throw toHttpError(err, shown, true);
  }
}

function metadataOf(req: IncomingMessage): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('x-metadata-') && typeof v === 'string') (out ??= {})[k.slice(11)] = v;
  }
  return out;
}

/** `POST /files` — multipart (one part per file, filename = destination) or raw octet-stream. */
export async function handleFilesPost(sbx: Sandbox, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const queryPath = url.searchParams.get('path');
  const ctype = String(req.headers['content-type'] ?? '');
  const metadata = metadataOf(req);
  const written: string[] = [];
  let current = queryPath ?? '';
  try {
    const user = queryUser(sbx, url);
    const owner = sbx.owner(user);
    if (/^multipart\/form-data/i.test(ctype)) {
      const boundary = boundaryOf(ctype);
      if (!boundary) throw new HttpError(400, 'multipart boundary missing');
      let parts;
      try { parts = parseMultipart(await readBody(req), boundary); } catch (e) { throw new HttpError(400, (e as Error).message); }
      const targets = new Map<string, Buffer>();
      for (const part of parts) {
        if (part.name !== 'file') continue;
        const raw = queryPath ?? part.filename ?? '';
        if (!raw) throw new HttpError(400, 'file part without a destination path');
        current = sbx.sandboxPath(raw, user);
        if (targets.has(current)) throw new HttpError(400, `you cannot upload multiple files to the same path '${current}' in one upload request`);
        targets.set(current, part.data);
      }
      if (targets.size === 0) throw new HttpError(400, 'no file parts in the request');
      for (const [p, data] of targets) {
        current = p;
        written.push(await sbx.fs.write(p, data, owner, metadata));
      }
    } else {
      if (!queryPath) throw new HttpError(400, 'path query parameter is required for octet-stream uploads');
      current = sbx.sandboxPath(queryPath, user);
      written.push(await sbx.fs.write(current, bodyStream(req), owner, metadata));
    }
  } catch (err) {
    req.resume();
    throw toHttpError(err, current, false);
  }
  sendJson(res, 200, written.map((p) => ({ path: p, name: path.posix.basename(p), type: 'file', ...(metadata ? { metadata } : {}) })));
}
