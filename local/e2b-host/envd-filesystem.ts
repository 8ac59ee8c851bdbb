// envd `filesystem.Filesystem` service: Stat, ListDir, MakeDir, Move, Remove and the WatchDir
// stream, confined to the sandbox directory.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { watch, type Dirent } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { RpcError, RpcStream, keepaliveMs, readRpcRequest, sendStreamError, sendUnary } from './connect-codec.ts';
import { entryInfo, type EntryJson } from './entry-info.ts';
import { PathOutsideError, type Sandbox } from './sandbox.ts';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

/** Maps fs/path errors onto Connect codes. */
function toRpcError(err: unknown, p: string): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof PathOutsideError) return new RpcError('permission_denied', err.message);
  switch (errno(err)) {
    case 'ENOENT': return new RpcError('not_found', `path '${p}' does not exist`);
    case 'ENOTDIR': return new RpcError('invalid_argument', `path '${p}' is not a directory`);
    case 'EEXIST': return new RpcError('already_exists', `path '${p}' already exists`);
    case 'EACCES': case 'EPERM': return new RpcError('permission_denied', `permission denied: ${p}`);
    default: return new RpcError('internal', `${(err as Error)?.message ?? String(err)}`);
  }
}

async function listDir(abs: string, depth: number): Promise<EntryJson[]> {
  const out: EntryJson[] = [];
  const walk = async (dir: string, level: number): Promise<void> => {
    let ents: Dirent[];
    try { ents = await readdir(dir, { withFileTypes: true }); } catch { return; }
    ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of ents) {
      const child = path.join(dir, d.name);
      try { out.push(await entryInfo(child)); } catch { continue; }
      if (d.isDirectory() && level < depth) await walk(child, level + 1);
    }
  };
  await walk(abs, 1);
  return out;
}

async function unary(sbx: Sandbox, method: string, body: Record<string, any>): Promise<unknown> {
  const p = String(body.path ?? '');
  switch (method) {
    case 'Stat': return { entry: await entryInfo(await sbx.resolvePath(p)) };
    case 'ListDir': {
      const abs = await sbx.resolvePath(p);
      const st = await stat(abs);
      if (!st.isDirectory()) throw new RpcError('invalid_argument', `path '${p}' is not a directory`);
      return { entries: await listDir(abs, Math.max(1, Number(body.depth) || 1)) };
    }
    case 'MakeDir': {
      const abs = await sbx.resolvePath(p);
      const st = await stat(abs).catch(() => null);
      if (st?.isDirectory()) throw new RpcError('already_exists', `directory '${p}' already exists`);
      if (st) throw new RpcError('invalid_argument', `path '${p}' already exists and is not a directory`);
      await mkdir(abs, { recursive: true });
      return { entry: await entryInfo(abs) };
    }
    case 'Move': {
      const src = await sbx.resolvePath(String(body.source ?? ''));
      const dst = await sbx.resolvePath(String(body.destination ?? ''));
      await lstat(src).catch((e) => { throw toRpcError(e, String(body.source)); });
      await mkdir(path.dirname(dst), { recursive: true });
      await rename(src, dst);
      return { entry: await entryInfo(dst) };
    }
    case 'Remove': {
      const abs = await sbx.resolvePath(p);
      if (abs === sbx.dir || abs === sbx.home) throw new RpcError('permission_denied', `refusing to remove '${p}'`);
      await rm(abs, { recursive: true, force: true });
      return {};
    }
    default: throw new RpcError('unimplemented', `filesystem.Filesystem/${method} is not implemented`);
  }
}

async function watchDir(sbx: Sandbox, req: IncomingMessage, res: ServerResponse, body: Record<string, any>): Promise<void> {
  const p = String(body.path ?? '');
  const abs = await sbx.resolvePath(p);
  const st = await stat(abs);
  if (!st.isDirectory()) throw new RpcError('invalid_argument', `path '${p}' is not a directory`);
  const includeEntry = body.includeEntry === true || body.include_entry === true;
  const watcher = watch(abs, { recursive: body.recursive === true });
  const stream = new RpcStream(res, keepaliveMs(req), { keepalive: {} });
  sbx.streams.add(stream);
  stream.send({ start: {} });
  watcher.on('change', (kind, filename) => {
    if (!filename) return;
    const name = String(filename);
    const full = path.join(abs, name);
    void lstat(full).then((s) => s, () => null).then(async (s) => {
      const type = kind === 'change' ? 'EVENT_TYPE_WRITE' : s ? 'EVENT_TYPE_CREATE' : 'EVENT_TYPE_REMOVE';
      const ev: Record<string, unknown> = { name, type };
      if (includeEntry && s) ev.entry = await entryInfo(full, s).catch(() => undefined);
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
    if (streaming) return await watchDir(sbx, req, res, body);
    sendUnary(res, await unary(sbx, method, body));
  } catch (err) {
    const rpc = toRpcError(err, String(body.path ?? body.source ?? ''));
    if (streaming) sendStreamError(res, rpc.code, rpc.message);
    else throw rpc;
  }
}
