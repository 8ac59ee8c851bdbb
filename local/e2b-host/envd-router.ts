// envd data plane (the `sandboxUrl` side): finds the sandbox from `E2b-Sandbox-Id` (or a signed
// /files URL), checks `X-Access-Token`, answers 502 for dead sandboxes and dispatches.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { RpcError, sendUnaryError } from './connect-codec.ts';
import { handleFilesystemRpc } from './envd-filesystem.ts';
import { handleProcessRpc } from './envd-process.ts';
import { handleFilesGet, handleFilesPost, validSignature } from './files-http.ts';
import { HttpError, drain, sendEmpty, sendJson } from './http-util.ts';
import type { Sandbox } from './sandbox.ts';
import type { SandboxStore } from './store.ts';

/** True when the request is addressed to envd rather than the control plane. */
export function isEnvdRequest(req: IncomingMessage, url: URL): boolean {
  return typeof req.headers['e2b-sandbox-id'] === 'string' || (url.pathname === '/files' && url.searchParams.has('signature'));
}

function tokenOk(req: IncomingMessage, sbx: Sandbox): boolean {
  const t = req.headers['x-access-token'];
  if (typeof t !== 'string') return false;
  const a = Buffer.from(t); const b = Buffer.from(sbx.accessToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The proxy's answer for an unknown, killed or paused sandbox. */
function sendDead(res: ServerResponse, id: string): void {
  sendJson(res, 502, { sandboxId: id, message: 'The sandbox was not found', code: 502 }, { 'content-type': 'application/json; charset=utf-8' });
}

/** Handles one envd request. */
export async function handleEnvd(store: SandboxStore, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const rpc = /^\/(process\.Process|filesystem\.Filesystem)\/(\w+)$/.exec(url.pathname);
  const headerId = req.headers['e2b-sandbox-id'];
  let sbx: Sandbox | undefined;
  let signed = false;
  if (typeof headerId === 'string') {
    sbx = store.get(headerId);
  } else {
    // Signed URL without routing headers: find the sandbox whose token produced the signature.
    const op = req.method === 'GET' ? 'read' : 'write';
    sbx = store.all().find((s) => s.state === 'running' && validSignature(s, url, op));
    signed = sbx !== undefined;
    if (!sbx) { drain(req); throw new HttpError(401, 'invalid or expired signature'); }
  }
  if (!sbx || sbx.state !== 'running') { drain(req); return sendDead(res, String(headerId ?? '')); }

  if (!signed && !tokenOk(req, sbx)) {
    const op = req.method === 'GET' ? 'read' : 'write';
    if (!(url.pathname === '/files' && validSignature(sbx, url, op))) {
      drain(req);
      if (rpc) return sendUnaryError(res, 'unauthenticated', 'invalid access token');
      throw new HttpError(401, 'invalid access token');
    }
  }

  if (rpc) {
    if (req.method !== 'POST') throw new RpcError('unimplemented', 'HTTP method not allowed');
    if (rpc[1] === 'process.Process') return handleProcessRpc(sbx, rpc[2], req, res);
    return handleFilesystemRpc(sbx, rpc[2], req, res);
  }
  if (url.pathname === '/health' && req.method === 'GET') return sendEmpty(res, 204);
  if (url.pathname === '/files' && req.method === 'GET') return handleFilesGet(sbx, url, res);
  if (url.pathname === '/files' && req.method === 'POST') return handleFilesPost(sbx, url, req, res);
  drain(req);
  throw new HttpError(404, `envd: no route for ${req.method} ${url.pathname}`);
}
