// Connect protocol (JSON codec) framing: unary JSON replies/errors, the 5-byte envelope of
// server streams, end-of-stream (0x02) trailers and keepalive pings.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from './http-util.ts';

/** Connect error codes (snake_case on the wire). */
export type ConnectCode =
  | 'canceled' | 'unknown' | 'invalid_argument' | 'deadline_exceeded' | 'not_found' | 'already_exists'
  | 'permission_denied' | 'resource_exhausted' | 'failed_precondition' | 'aborted' | 'out_of_range'
  | 'unimplemented' | 'internal' | 'unavailable' | 'data_loss' | 'unauthenticated';

const HTTP_STATUS: Record<ConnectCode, number> = {
  canceled: 499, unknown: 500, invalid_argument: 400, deadline_exceeded: 504, not_found: 404,
  already_exists: 409, permission_denied: 403, resource_exhausted: 429, failed_precondition: 400,
  aborted: 409, out_of_range: 400, unimplemented: 501, internal: 500, unavailable: 503,
  data_loss: 500, unauthenticated: 401,
};

/** An RPC failure carrying a Connect code; handlers throw it, the router serialises it. */
export class RpcError extends Error {
  code: ConnectCode;
  constructor(code: ConnectCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Encodes one envelope: flags(1) | length(4, BE) | JSON. */
export function envelope(flags: number, msg: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(msg));
  const out = Buffer.allocUnsafe(5 + json.length);
  out[0] = flags;
  out.writeUInt32BE(json.length, 1);
  json.copy(out, 5);
  return out;
}

/** Reads a request message: plain JSON for unary calls, one enveloped JSON message for streams. */
export async function readRpcRequest(req: IncomingMessage, streaming: boolean): Promise<Record<string, any>> {
  const buf = await readBody(req);
  let json: Buffer = buf;
  if (streaming) {
    if (buf.length < 5) throw new RpcError('invalid_argument', 'missing request envelope');
    if (buf[0] & 0x01) throw new RpcError('internal', 'compressed request envelopes are not supported');
    const len = buf.readUInt32BE(1);
    json = buf.subarray(5, 5 + len);
  }
  if (json.length === 0) return {};
  try {
    const v = JSON.parse(json.toString('utf8'));
    return v && typeof v === 'object' ? v : {};
  } catch {
    throw new RpcError('invalid_argument', 'request is not valid JSON');
  }
}

/** Sends a unary success message. */
export function sendUnary(res: ServerResponse, msg: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(JSON.stringify(msg));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(buf.length) });
  res.end(buf);
}

/** Sends a unary error: non-200 status plus `{"code","message"}` JSON (the code decides the SDK error). */
export function sendUnaryError(res: ServerResponse, code: ConnectCode, message: string): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(JSON.stringify({ code, message }));
  res.writeHead(HTTP_STATUS[code] ?? 500, { 'content-type': 'application/json', 'content-length': String(buf.length) });
  res.end(buf);
}

/** Parses the `Keepalive-Ping-Interval` header (seconds; envd default 90 s). */
export function keepaliveMs(req: IncomingMessage): number {
  const s = Number(req.headers['keepalive-ping-interval']);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 90_000;
}

/** Parses `Connect-Timeout-Ms`; undefined when absent or not positive. */
export function connectTimeoutMs(req: IncomingMessage): number | undefined {
  const v = Number(req.headers['connect-timeout-ms']);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/**
 * A server-stream response: 200 + application/connect+json, one envelope per `send`,
 * periodic keepalive messages, and exactly one 0x02 trailer from `end`.
 */
export class RpcStream {
  readonly res: ServerResponse;
  closed = false;
  private timer: NodeJS.Timeout | undefined;
  private onCloseFns: Array<() => void> = [];

  constructor(res: ServerResponse, pingMs: number, pingMsg: unknown) {
    this.res = res;
    res.writeHead(200, { 'content-type': 'application/connect+json', 'cache-control': 'no-store' });
    res.flushHeaders();
    const ping = envelope(0, pingMsg);
    this.timer = setInterval(() => { if (!this.closed) res.write(ping); }, pingMs);
    this.timer.unref();
    res.on('close', () => this.finish());
  }

  /** Registers cleanup run once when the stream ends or the client goes away. */
  onClose(fn: () => void): void {
    if (this.closed) fn(); else this.onCloseFns.push(fn);
  }

  send(msg: unknown): void {
    if (!this.closed) this.res.write(envelope(0, msg));
  }

  /** Writes the end-of-stream envelope (`{}` or `{"error":{...}}`) and ends the response. */
  end(error?: { code: ConnectCode; message: string }): void {
    if (this.closed) return;
    this.res.end(envelope(2, error ? { error } : {}));
    this.finish();
  }

  /** Drops the connection without a trailer (models a sandbox dying mid-stream). */
  abort(): void {
    if (this.closed) return;
    this.res.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const fn of this.onCloseFns.splice(0)) fn();
  }
}

/** Ends a stream that failed before it started: HTTP 200 with only the 0x02 error envelope. */
export function sendStreamError(res: ServerResponse, code: ConnectCode, message: string): void {
  if (res.headersSent || res.destroyed) return;
  const body = envelope(2, { error: { code, message } });
  res.writeHead(200, { 'content-type': 'application/connect+json', 'content-length': String(body.length) });
  res.end(body);
}
