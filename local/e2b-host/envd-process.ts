// envd `process.Process` service: Start/Connect server streams and the List, SendInput,
// SendSignal, CloseStdin, Update unary calls, on top of the sandbox's ProcessTable.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stat } from 'node:fs/promises';
import {
  RpcError, RpcStream, connectTimeoutMs, keepaliveMs, readRpcRequest, sendStreamError, sendUnary,
} from './connect-codec.ts';
import type { ManagedProcess, ProcessConfig, Subscriber } from './processes.ts';
import type { Sandbox } from './sandbox.ts';

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

/** envd cwd rules: empty → home, `~` expanded, relative → home; must exist inside the sandbox. */
async function resolveCwd(sbx: Sandbox, cwd: unknown): Promise<string> {
  const want = typeof cwd === 'string' ? cwd : '';
  const abs = sbx.lexicalPath(want);
  if (abs === null) throw new RpcError('invalid_argument', `cwd '${want}' is outside the sandbox directory ${sbx.dir}`);
  const st = await stat(abs).catch(() => null);
  if (!st || !st.isDirectory()) throw new RpcError('invalid_argument', `cwd '${want}' does not exist`);
  return abs;
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
  const config: ProcessConfig = {
    cmd: p.cmd, args: Array.isArray(p.args) ? p.args.map(String) : [], envs, cwd: await resolveCwd(sbx, p.cwd),
  };
  const pty = Boolean(body.pty);
  const timeout = connectTimeoutMs(req);
  try {
    await sbx.processes.start(config, { ...sbx.baseEnv(), ...envs }, { stdin: body.stdin === true, pty, tag: body.tag }, (proc) => {
      if (timeout !== undefined) proc.setDeadline(timeout);
      const stream = new RpcStream(res, keepaliveMs(req), KEEPALIVE);
      stream.send({ event: { start: { pid: proc.pid } } });
      attach(sbx, proc, stream);
      if (sbx.state !== 'running') stream.abort();
    });
  } catch (err) {
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
      case 'Update': mustFind(sbx, body); return sendUnary(res, {});
      default: throw new RpcError('unimplemented', `process.Process/${method} is not implemented`);
    }
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    if (streaming) sendStreamError(res, err.code, err.message);
    else throw err;
  }
}
