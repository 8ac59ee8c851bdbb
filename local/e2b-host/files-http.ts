// envd `GET /files` (download) and `POST /files` (multipart or octet-stream upload, gzip request
// bodies), plus v1 signed-URL verification for uploadUrl()/downloadUrl().
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HttpError, bodyStream, readBody, sendJson } from './http-util.ts';
import { boundaryOf, parseMultipart } from './multipart.ts';
import { PathOutsideError, type Sandbox } from './sandbox.ts';

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

function fsError(err: unknown, p: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof PathOutsideError) return new HttpError(403, err.message);
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ENOENT': return new HttpError(404, `path '${p}' does not exist`);
    case 'EISDIR': return new HttpError(400, `path '${p}' is a directory`);
    case 'ENOTDIR': return new HttpError(400, `a parent of path '${p}' is not a directory`);
    case 'ENOSPC': return new HttpError(507, 'not enough disk space available');
    case 'EACCES': case 'EPERM': return new HttpError(403, `permission denied: ${p}`);
    default: return new HttpError(500, `error handling file '${p}': ${(err as Error)?.message}`);
  }
}

/** Plain text unless the first bytes look binary (Go's http.DetectContentType, roughly). */
function sniff(buf: Buffer): string {
  const head = buf.subarray(0, 512);
  return head.includes(0) ? 'application/octet-stream' : 'text/plain; charset=utf-8';
}

/** `GET /files?path=` — raw bytes with Content-Length. */
export async function handleFilesGet(sbx: Sandbox, url: URL, res: ServerResponse): Promise<void> {
  const p = url.searchParams.get('path') ?? '';
  try {
    const abs = await sbx.resolvePath(p);
    const st = await stat(abs);
    if (st.isDirectory()) throw new HttpError(400, `path '${p}' is a directory`);
    if (st.size <= SMALL_FILE) {
      const buf = await readFile(abs);
      res.writeHead(200, { 'content-type': sniff(buf), 'content-length': String(buf.length) });
      res.end(buf);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(st.size) });
    await pipeline(createReadStream(abs), res);
  } catch (err) {
    if (res.headersSent) { res.destroy(); return; }
    throw fsError(err, p);
  }
}

function metadataOf(req: IncomingMessage): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('x-metadata-') && typeof v === 'string') (out ??= {})[k.slice(11)] = v;
  }
  return out;
}

async function checkTarget(abs: string, p: string): Promise<void> {
  const st = await stat(abs).catch(() => null);
  if (st?.isDirectory()) throw new HttpError(400, `path '${p}' is a directory`);
  await mkdir(path.dirname(abs), { recursive: true });
}

/** `POST /files` — multipart (one part per file, filename = destination) or raw octet-stream. */
export async function handleFilesPost(sbx: Sandbox, url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const queryPath = url.searchParams.get('path');
  const ctype = String(req.headers['content-type'] ?? '');
  const written: string[] = [];
  let current = queryPath ?? '';
  try {
    if (/^multipart\/form-data/i.test(ctype)) {
      const boundary = boundaryOf(ctype);
      if (!boundary) throw new HttpError(400, 'multipart boundary missing');
      let parts;
      try { parts = parseMultipart(await readBody(req), boundary); } catch (e) { throw new HttpError(400, (e as Error).message); }
      const targets = new Map<string, Buffer>();
      for (const part of parts) {
        if (part.name !== 'file') continue;
        current = queryPath ?? part.filename ?? '';
        if (!current) throw new HttpError(400, 'file part without a destination path');
        const abs = await sbx.resolvePath(current);
        if (targets.has(abs)) throw new HttpError(400, `cannot upload the same path twice: ${current}`);
        await checkTarget(abs, current);
        targets.set(abs, part.data);
      }
      if (targets.size === 0) throw new HttpError(400, 'no file parts in the request');
      for (const [abs, data] of targets) {
        await writeFile(abs, data);
        written.push(abs);
      }
    } else {
      if (!queryPath) throw new HttpError(400, 'path query parameter is required for octet-stream uploads');
      const abs = await sbx.resolvePath(queryPath);
      await checkTarget(abs, queryPath);
      await pipeline(bodyStream(req), createWriteStream(abs));
      written.push(abs);
    }
  } catch (err) {
    req.resume();
    throw fsError(err, current);
  }
  const metadata = metadataOf(req);
  sendJson(res, 200, written.map((abs) => ({ path: abs, name: path.basename(abs), type: 'file', ...(metadata ? { metadata } : {}) })));
}
