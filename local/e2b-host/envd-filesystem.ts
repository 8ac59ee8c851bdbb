// envd `filesystem.Filesystem` service: Stat, ListDir, MakeDir, Move, Remove and the WatchDir
// stream, in the sandbox's own paths (through SandboxFs) and as the requesting user.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { watch } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { RpcError, RpcStream, keepaliveMs, readRpcRequest, sendStreamError, sendUnary } from './connect-codec.ts';
import { requestUser } from './envd-process.ts';
import type { Sandbox, SandboxUser } from './sandbox.ts';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/**
 * Maps fs errors onto the Connect codes envd uses. A path the sandbox user cannot reach through
 * the API (outside /home/user and /tmp, or refused by the kernel) is `internal` with envd's
 * "permission denied" text, as envd reports any failed filesystem call.
 */
function toRpcError(err: unknown, p: string): RpcError {
  if (err instanceof RpcError) return err;
  const msg = (err as Error)?.message ?? String(err);
  switch (errno(err)) {
    case 'ENOENT': return new RpcError('not_found', `path '${p}' does not exist`);
    case 'ENOTDIR': return new RpcError('invalid_argument', `path is not a directory: ${p}`);
    case 'EEXIST': return new RpcError('already_exists', `directory already exists: ${p}`);
    case 'ELOOP': return new RpcError('failed_precondition', `cyclic symlink or chain >255 links at "${p}"`);
    case 'EACCES': case 'EPERM': case 'EROFS': return new RpcError('internal', `error accessing path '${p}': ${msg}`);
    default: return new RpcError('internal', msg);
  }
}

async function unary(sbx: Sandbox, user: SandboxUser, method: string, body: Record<string, any>): Promise<unknown> {
  const p = sbx.sandboxPath(String(body.path ?? ''), user);
  switch (method) {
    case 'Stat': return { entry: await sbx.fs.entry(p) };
    case 'ListDir': return { entries: await sbx.fs.list(p, Math.max(1, Number(body.depth) || 1)) };
    case 'MakeDir':
      try {
        return { entry: await sbx.fs.makeDir(p, sbx.owner(user)) };
      } catch (err) {
        if (errno(err) === 'ENOTDIR') throw new RpcError('invalid_argument', `path already exists but it is not a directory: ${p}`);
        throw err;
      }
    case 'Move': {
      const src = sbx.sandboxPath(String(body.source ?? ''), user);
      const dst = sbx.sandboxPath(String(body.destination ?? ''), user);
      return { entry: await sbx.fs.move(src, dst, sbx.owner(user)) };
    }
    case 'Remove':
      await sbx.fs.remove(p);
      return {};
    default: throw new RpcError('unimplemented', `filesystem.Filesystem/${method} is not implemented`);
  }
}

async function watchDir(sbx: Sandbox, user: SandboxUser, req: IncomingMessage, res: ServerResponse, body: Record<string, any>): Promise<void> {
  const { host } = await sbx.fs.hostDir(sbx.sandboxPath(String(body.path ?? ''), user));
  const includeEntry = body.includeEntry === true || body.include_entry === true;
  const watcher = watch(host, { recursive: body.recursive === true });
  const stream = new RpcStream(res, keepaliveMs(req), { keepalive: {} });
  const watched = sbx.sandboxPath(String(body.path ?? ''), user);
  sbx.streams.add(stream);
  stream.send({ start: {} });
  watcher.on('change', (kind, filename) => {
    if (!filename) return;
    const name = String(filename);
    void lstat(path.join(host, name)).then((s) => s, () => null).then(async (s) => {
      const type = kind === 'change' ? 'EVENT_TYPE_WRITE' : s ? 'EVENT_TYPE_CREATE' : 'EVENT_TYPE_REMOVE';
      const ev: Record<string, unknown> = { name, type };
      if (includeEntry && s) ev.entry = await sbx.fs.entry(path.posix.join(watched, name)).catch(() => undefined);
      stream.send({ filesystem: ev });
    });
  });
  watcher.on('error', (err) => stream.end({ code: 'internal', message: `watcher error: ${err.message}` }));
  stream.onClose(() => { watcher.close(); sbx.streams.delete(stream); });
}

/** Handles `/filesystem.Filesystem/<method>` for a running sandbox. */
export async function handleFilesystemRpc(sbx: Sandbox, method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const streaming = method === 'WatchDir';
  let body: Record<string, any> = {};
  try {
    body = await readRpcRequest(req, streaming);
    const user = requestUser(sbx, req);
    if (streaming) return await watchDir(sbx, user, req, res, body);
    sendUnary(res, await unary(sbx, user, method, body));
  } catch (err) {
    const rpc = toRpcError(err, String(body.path ?? body.source ?? ''));
    if (streaming) sendStreamError(res, rpc.code, rpc.message);
    else throw rpc;
  }
}
