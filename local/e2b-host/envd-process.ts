// envd `process.Process` service: Start/Connect server streams and the List, SendInput,
// SendSignal, CloseStdin, Update unary calls, on top of the sandbox's ProcessTable.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  RpcError, RpcStream, connectTimeoutMs, keepaliveMs, readRpcRequest, sendStreamError, sendUnary,
} from './connect-codec.ts';
import { basicAuthUser } from './http-util.ts';
import { MissingCwdError, type ManagedProcess, type ProcessConfig, type Subscriber } from './processes.ts';
import type { Sandbox, SandboxUser } from './sandbox.ts';

const KEEPALIVE = { event: { keepalive: {} } };

function selector(body: Record<string, any>): { pid?: number; tag?: string } {
  const p = body.process ?? {};
  if (p.pid !== undefined && p.pid !== null) return { pid: Number(p.pid) };
  if (typeof p.tag === 'string') return { tag: p.tag };
  throw new RpcError('invalid_argument', 'process selector (pid or tag) is required');
}

function describe(sel: { pid?: number; tag?: string }): string {
  return sel.pid !== undefined ? `process with pid ${sel.pid} not found` : `process with tag ${sel.tag} not found`;
}

function mustFind(sbx: Sandbox, body: Record<string, any>): ManagedProcess {
  const sel = selector(body);
  const proc = sbx.processes.find(sel);
  if (!proc) throw new RpcError('not_found', describe(sel));
  return proc;
}

/** The envd user of a request (`Authorization: Basic`); unknown names are `unauthenticated`. */
export function requestUser(sbx: Sandbox, req: IncomingMessage): SandboxUser {
  const name = basicAuthUser(req);
  const u = sbx.user(name);
  if (!u) throw new RpcError('unauthenticated', `invalid username: '${name}'`);
  return u;
}

function ptySize(v: any): { cols: number; rows: number } | undefined {
  if (!v) return undefined;
  const size = v.size ?? {};
  return { cols: Math.max(1, Number(size.cols) || 80), rows: Math.max(1, Number(size.rows) || 24) };
}

/** Streams one process's events into an RpcStream until it ends or the client leaves. */
function attach(sbx: Sandbox, proc: ManagedProcess, stream: RpcStream): void {
  sbx.streams.add(stream);
  const sub: Subscriber = {
    data: (kind, chunk) => stream.send({ event: { data: { [kind]: chunk.toString('base64') } } }),
    end: (ev) => { stream.send({ event: { end: ev } }); stream.end(); },
  };
  proc.subscribers.add(sub);
  stream.onClose(() => { proc.subscribers.delete(sub); sbx.streams.delete(stream); });
}

async function start(sbx: Sandbox, req: IncomingMessage, res: ServerResponse, body: Record<string, any>): Promise<void> {
  const p = body.process ?? {};
  if (typeof p.cmd !== 'string' || !p.cmd) throw new RpcError('invalid_argument', 'process.cmd is required');
  const envs: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.envs ?? {})) envs[k] = String(v);
  const user = requestUser(sbx, req);
  const wantCwd = typeof p.cwd === 'string' ? p.cwd : '';
  const config: ProcessConfig = {
    cmd: p.cmd, args: Array.isArray(p.args) ? p.args.map(String) : [], envs, cwd: sbx.sandboxPath(wantCwd, user),
  };
  const pty = ptySize(body.pty);
  const timeout = connectTimeoutMs(req);
  try {
    await sbx.processes.start(config, { ...sbx.baseEnv(user), ...envs }, { stdin: body.stdin === true, pty, tag: body.tag, user }, (proc) => {
      if (timeout !== undefined) proc.setDeadline(timeout);
      const stream = new RpcStream(res, keepaliveMs(req), KEEPALIVE);
      stream.send({ event: { start: { pid: proc.pid } } });
      attach(sbx, proc, stream);
      if (sbx.state !== 'running') stream.abort();
    });
  } catch (err) {
    if (err instanceof MissingCwdError) throw new RpcError('invalid_argument', `cwd '${wantCwd}' does not exist`);
    throw new RpcError('internal', `error starting process: ${(err as Error).message}`);
  }
}

function connect(sbx: Sandbox, req: IncomingMessage, res: ServerResponse, body: Record<string, any>): void {
  const sel = selector(body);
  const proc = sbx.processes.find(sel, true);
  if (!proc) throw new RpcError('not_found', describe(sel));
  const stream = new RpcStream(res, keepaliveMs(req), KEEPALIVE);
  stream.send({ event: { start: { pid: proc.pid } } });
  if (proc.result) {
    stream.send({ event: { end: proc.result } });
    stream.end();
    return;
  }
  attach(sbx, proc, stream);
  const timeout = connectTimeoutMs(req);
  if (timeout !== undefined) {
    const t = setTimeout(() => stream.end({ code: 'deadline_exceeded', message: 'the operation timed out' }), timeout);
    t.unref();
    stream.onClose(() => clearTimeout(t));
  }
}

function signalName(v: unknown): NodeJS.Signals | undefined {
  if (v === 'SIGNAL_SIGKILL' || v === 9 || v === '9') return 'SIGKILL';
  if (v === 'SIGNAL_SIGTERM' || v === 15 || v === '15') return 'SIGTERM';
  return undefined;
}

/** Handles `/process.Process/<method>` for a running sandbox. */
export async function handleProcessRpc(sbx: Sandbox, method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const streaming = method === 'Start' || method === 'Connect';
  try {
    const body = await readRpcRequest(req, streaming);
    switch (method) {
      case 'Start': return await start(sbx, req, res, body);
      case 'Connect': return connect(sbx, req, res, body);
      case 'List':
        return sendUnary(res, {
          processes: sbx.processes.list().map((p) => ({
            pid: p.pid, config: { cmd: p.config.cmd, args: p.config.args, envs: p.config.envs, cwd: p.config.cwd },
            ...(p.tag !== undefined ? { tag: p.tag } : {}),
          })),
        });
      case 'SendInput': {
        const proc = mustFind(sbx, body);
        const input = body.input ?? {};
        const b64 = input.stdin ?? input.pty ?? '';
        try { proc.write(Buffer.from(String(b64), 'base64')); } catch (err) { throw new RpcError('internal', (err as Error).message); }
        return sendUnary(res, {});
      }
      case 'CloseStdin': mustFind(sbx, body).closeStdin(); return sendUnary(res, {});
      case 'SendSignal': {
        const proc = mustFind(sbx, body);
        const sig = signalName(body.signal);
        if (!sig) throw new RpcError('unimplemented', `invalid signal: ${String(body.signal)}`);
        proc.signal(sig);
        return sendUnary(res, {});
      }
      case 'Update': {
        const proc = mustFind(sbx, body);
        const size = ptySize(body.pty);
        if (size) proc.resize(size.cols, size.rows);
        return sendUnary(res, {});
      }
      default: throw new RpcError('unimplemented', `process.Process/${method} is not implemented`);
    }
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    if (streaming) sendStreamError(res, err.code, err.message);
    else throw err;
  }
}
