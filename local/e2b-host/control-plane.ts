// E2B control-plane REST (the `apiUrl` side): create/connect/info/kill/timeout/list/pause/metrics,
// plus the `/_local/*` admin endpoints used for fault injection from other processes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { HttpError, readJson, sendEmpty, sendJson } from './http-util.ts';
import type { Sandbox } from './sandbox.ts';
import type { SandboxStore } from './store.ts';

/** envd version advertised: the lowest that unlocks every SDK 2.51.0 feature gate. */
export const ENVD_VERSION = '0.6.4';

/** Mutable host knobs reachable from the admin endpoints. */
export interface ControlContext { store: SandboxStore; apiKey: string }

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a); const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function authorized(req: IncomingMessage, apiKey: string): boolean {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && sameSecret(key, apiKey)) return true;
  const auth = req.headers.authorization;
  return typeof auth === 'string' && auth.startsWith('Bearer ') && sameSecret(auth.slice(7), apiKey);
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, val] of Object.entries(v)) out[k] = String(val);
  return out;
}

function seconds(v: unknown): number | undefined {
  const n = Number(v);
  return v !== undefined && v !== null && Number.isFinite(n) && n >= 0 ? n : undefined;
}

const notFound = (id: string) => new HttpError(404, `Sandbox "${id}" doesn't exist or you don't have access to it`);

/** The `Sandbox` object returned by create/connect. */
function sandboxJson(s: Sandbox) {
  return {
    sandboxID: s.id, templateID: s.templateId, alias: s.templateId, clientID: 'local',
    envdVersion: ENVD_VERSION, envdAccessToken: s.accessToken, domain: null, trafficAccessToken: null,
  };
}

/** `ListedSandbox` (list) and, with the token added, `SandboxDetail` (get info). */
function listedJson(s: Sandbox) {
  return {
    sandboxID: s.id, templateID: s.templateId, alias: s.templateId, clientID: 'local',
    startedAt: s.startedAt.toISOString(), endAt: s.endAt.toISOString(), state: s.state,
    cpuCount: 2, memoryMB: 512, diskSizeMB: 1024, envdVersion: ENVD_VERSION,
    metadata: s.metadata, volumeMounts: [],
  };
}

/** Decodes the SDK's double-encoded `metadata` query parameter. */
function metadataFilter(raw: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const [k, v] of new URLSearchParams(raw)) {
    try { out[decodeURIComponent(k)] = decodeURIComponent(v); } catch { out[k] = v; }
  }
  return out;
}

function list(ctx: ControlContext, url: URL, res: ServerResponse, paged: boolean): void {
  const q = url.searchParams;
  const meta = metadataFilter(q.get('metadata'));
  const states = (q.get('state') || 'running,paused').split(',').map((x) => x.trim());
  const template = q.get('template');
  const after = q.get('startedAfter') ? Date.parse(q.get('startedAfter')!) : NaN;
  const asc = q.get('order') === 'asc';
  const limit = Math.min(100, Math.max(1, Number(q.get('limit')) || 100));
  const token = Number(q.get('nextToken'));
  let items = ctx.store.all().filter((s) =>
    states.includes(s.state) &&
    Object.entries(meta).every(([k, v]) => s.metadata[k] === v) &&
    (!template || s.templateId === template) &&
    (Number.isNaN(after) || s.startedAt.getTime() >= after));
  items.sort((a, b) => (asc ? a.seq - b.seq : b.seq - a.seq));
  if (!paged) { sendJson(res, 200, items.map(listedJson)); return; }
  if (q.get('nextToken') && Number.isFinite(token)) items = items.filter((s) => (asc ? s.seq > token : s.seq < token));
  const page = items.slice(0, limit);
  const headers: Record<string, string> = {};
  if (items.length > limit) headers['x-next-token'] = String(page[page.length - 1].seq);
  sendJson(res, 200, page.map(listedJson), headers);
}

async function admin(ctx: ControlContext, req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
  const body = req.method === 'POST' ? await readJson(req) : {};
  if (route === 'POST /_local/fail-next-creates') {
    ctx.store.failNextCreates(Number(body.count ?? 1), Number(body.status ?? 500));
    return sendJson(res, 200, { ok: true, count: Number(body.count ?? 1) });
  }
  if (route === 'POST /_local/create-latency') {
    ctx.store.opts.createLatencyMs = Math.max(0, Number(body.ms ?? 0));
    return sendJson(res, 200, { ok: true, ms: ctx.store.opts.createLatencyMs });
  }
  if (route === 'POST /_local/max-sandboxes') {
    ctx.store.opts.maxSandboxes = Math.max(0, Number(body.max ?? 0));
    return sendJson(res, 200, { ok: true, max: ctx.store.opts.maxSandboxes });
  }
  if (route === 'GET /_local/stats') {
    return sendJson(res, 200, { sandboxes: ctx.store.size, running: ctx.store.running(), maxSandboxes: ctx.store.opts.maxSandboxes, createLatencyMs: ctx.store.opts.createLatencyMs });
  }
  throw new HttpError(404, `no such admin route ${route}`);
}

/** Handles one control-plane request. */
export async function handleControl(ctx: ControlContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const p = url.pathname.replace(/\/+$/, '') || '/';
  if (method === 'GET' && p === '/health') return sendJson(res, 200, { status: 'ok' });
  if (!authorized(req, ctx.apiKey)) throw new HttpError(401, 'Invalid API key');
  if (p.startsWith('/_local/')) return admin(ctx, req, res, `${method} ${p}`);

  if (method === 'POST' && (p === '/v2/sandboxes' || p === '/sandboxes')) {
    const b = await readJson(req);
    const sbx = await ctx.store.create({
      templateId: typeof b.templateID === 'string' && b.templateID ? b.templateID : 'base',
      timeoutS: seconds(b.timeout), metadata: stringMap(b.metadata), envVars: stringMap(b.envVars),
    });
    return sendJson(res, 201, sandboxJson(sbx));
  }
  if (method === 'GET' && (p === '/v2/sandboxes' || p === '/sandboxes')) return list(ctx, url, res, p.startsWith('/v2'));

  const m = /^(?:\/v2)?\/sandboxes\/([^/]+)(?:\/([a-z]+))?$/.exec(p);
  if (!m) throw new HttpError(404, `no route for ${method} ${p}`);
  const id = decodeURIComponent(m[1]).split('-')[0];
  const action = m[2] ?? '';
  const sbx = ctx.store.get(id);
  if (!sbx) throw notFound(id);

  if (method === 'GET' && action === '') return sendJson(res, 200, { ...listedJson(sbx), envdAccessToken: sbx.accessToken, domain: null });
  if (method === 'DELETE' && action === '') { void ctx.store.terminate(sbx, 'killed'); return sendEmpty(res); }
  if (method === 'GET' && action === 'metrics') {
    const start = seconds(url.searchParams.get('start') ?? undefined);
    const end = seconds(url.searchParams.get('end') ?? undefined);
    return sendJson(res, 200, ctx.store.opts.metrics.samples(sbx.id, start, end));
  }
  if (method !== 'POST') throw new HttpError(405, `method ${method} not allowed`);
  const b = await readJson(req);
  switch (action) {
    case 'timeout':
      ctx.store.setTimeout(sbx, seconds(b.timeout) ?? ctx.store.opts.defaultTimeoutS);
      return sendEmpty(res);
    case 'refreshes':
      ctx.store.connect(sbx, seconds(b.duration) ?? 60);
      return sendEmpty(res);
    case 'pause':
      if (!ctx.store.pause(sbx)) throw new HttpError(409, `Sandbox "${id}" is already paused`);
      return sendEmpty(res);
    case 'connect':
    case 'resume': {
      if (action === 'resume' && sbx.state === 'running') throw new HttpError(409, `Sandbox "${id}" is already running`);
      const resumed = ctx.store.connect(sbx, seconds(b.timeout));
      return sendJson(res, resumed ? 201 : 200, sandboxJson(sbx));
    }
    default:
      throw new HttpError(404, `no route for ${method} ${p}`);
  }
}

