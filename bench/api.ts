// A small timed HTTP client for the Worker's REST API: every call resolves (never throws) with the
// status, the parsed body, the error code (from the body, or HTTP_<status> / NETWORK_<name>) and ms.
import { performance } from 'node:perf_hooks';

/** Outcome of one API call. */
export interface ApiResult<T = any> {
  status: number;
  body: T;
  /** null on 2xx; else the service's error code, HTTP_<status>, or NETWORK_<error name>. */
  code: string | null;
  message?: string;
  retryAfterS?: number;
  ms: number;
}

/** Options of one call. */
export interface CallOptions {
  key?: string;
  json?: unknown;
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Calls `method path` on `base` and measures the wall time until the body is read. */
export async function call<T = any>(base: string, method: string, path: string, o: CallOptions = {}): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  let body: string | Uint8Array | undefined = o.raw;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.raw !== undefined) {
    headers['content-type'] = 'application/octet-stream';
  }
  const timeout = AbortSignal.timeout(o.timeoutMs ?? 60_000);
  const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}${path}`, { method, headers, body, signal });
    const text = await res.text();
    const ms = performance.now() - t0;
    let parsed: any = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (res.ok) return { status: res.status, body: parsed as T, code: null, ms };
    const err = parsed && typeof parsed === 'object' ? parsed.error : undefined;
    const ra = Number(res.headers.get('retry-after'));
    return {
      status: res.status,
      body: parsed as T,
      code: typeof err?.code === 'string' ? err.code : `HTTP_${res.status}`,
      message: typeof err?.message === 'string' ? err.message : typeof parsed === 'string' ? parsed.slice(0, 300) : undefined,
      retryAfterS: Number.isFinite(ra) && ra > 0 ? ra : undefined,
      ms,
    };
  } catch (e) {
    const name = e instanceof Error ? (e.name === 'TimeoutError' ? 'TIMEOUT' : e.name === 'AbortError' ? 'ABORTED' : (e.cause as { code?: string })?.code ?? e.name) : 'ERROR';
    return { status: 0, body: null as T, code: `NETWORK_${name}`, message: e instanceof Error ? e.message : String(e), ms: performance.now() - t0 };
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<I, O>(items: readonly I[], limit: number, fn: (item: I, i: number) => Promise<O>): Promise<O[]> {
  const out = new Array<O>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}
