// POST /v1/sandboxes/{id}/exec answered as server-sent events (when the client accepts
// text/event-stream): `stdout` and `stderr` events as the command prints, then one `exit` event
// (or `error`, when the run failed after it started).
import { AppError, isAppError } from '../errors.ts';
import { reportDeltas } from '../metrics/report.ts';
import type { ServiceContext } from '../services/context.ts';
import { startExecStream, type ExecStreamInput } from '../services/exec-stream.ts';

/** A comment line every this often keeps idle connections (proxies, load balancers) open. */
const KEEPALIVE_MS = 15_000;

/** True when the Accept header asks for server-sent events. */
export function wantsEventStream(accept: string | undefined): boolean {
  return !!accept && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept);
}

/** The error body of a failure that happened mid-stream (logged like the app's error handler). */
function errorBody(svc: ServiceContext, e: unknown) {
  if (isAppError(e)) {
    if (e.status >= 500) svc.log.warn('request_failed', { path: 'exec_stream', code: e.code, internal: e.internal?.slice(0, 500) });
    return e.toBody();
  }
  svc.log.error('unhandled_error', { path: 'exec_stream', error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  return new AppError('INTERNAL', 'internal error').toBody();
}

/**
 * Starts the command and answers with its event stream. A failure before the command starts
 * (unknown lease, lease not ready) throws, so it is answered as a plain JSON error.
 */
export async function execEventStream(svc: ServiceContext, agentId: string, id: string, input: ExecStreamInput): Promise<Response> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const enc = new TextEncoder();
  const gone = new AbortController();
  const write = (text: string) =>
    writer.write(enc.encode(text)).catch((e: unknown) => {
      // The client went away: the command is cancelled (and killed) with everything it started.
      gone.abort();
      throw e;
    });
  const send = (event: string, data: unknown) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const { done } = await startExecStream(svc, agentId, id, input, (stream, piece) => send(stream, piece), gone.signal);
  const keepalive = setInterval(() => void write(': keep-alive\n\n').catch(() => {}), KEEPALIVE_MS);
  const finished = done
    .then(
      (end) => send('exit', end),
      (e: unknown) => send('error', errorBody(svc, e)),
    )
    .catch(() => {})
    .finally(async () => {
      clearInterval(keepalive);
      await writer.close().catch(() => {});
      // The request's own metrics were sent when the handler returned; the run's come now.
      reportDeltas(svc.env, svc.metrics.take(), svc.log, (p) => svc.waitUntil(p));
    });
  svc.hold(finished);
  return new Response(readable, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' },
  });
}
