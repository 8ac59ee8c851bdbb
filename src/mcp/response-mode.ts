// How /mcp answers one POST: one JSON body, or server-sent events when a request in it carries a
// progressToken and the client accepts text/event-stream (progress notifications can only travel
// on a stream, ahead of the result).
import { reportDeltas } from '../metrics/report.ts';
import type { ServiceContext } from '../services/context.ts';

/** The POST's JSON-RPC body, parsed (undefined when it is not JSON: the transport answers that). */
export async function readJsonRpc(req: Request): Promise<unknown> {
  try {
    return JSON.parse(await req.clone().text());
  } catch {
    return undefined;
  }
}

/** True when the body holds a request with `params._meta.progressToken` and the client accepts SSE. */
export function wantsProgressStream(accept: string | undefined, body: unknown): boolean {
  if (!accept?.includes('text/event-stream')) return false;
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.some((m) => {
    const meta = (m as { params?: { _meta?: { progressToken?: unknown } } } | null)?.params?._meta;
    return typeof meta?.progressToken === 'string' || typeof meta?.progressToken === 'number';
  });
}

/**
 * Hands a streamed answer to the client: `close` runs when the stream ends (the client read it all
 * or went away); until then the service context stays open, and the run's metrics go out after.
 */
export function streamAnswer(svc: ServiceContext, res: Response, close: () => Promise<void>): Response {
  if (!res.body) {
    svc.hold(close());
    return res;
  }
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const done = res.body
    .pipeTo(writable)
    .catch(() => {})
    .finally(async () => {
      await close().catch(() => {});
      reportDeltas(svc.env, svc.metrics.take(), svc.log, (p) => svc.waitUntil(p));
    });
  svc.hold(done);
  return new Response(readable, res);
}
