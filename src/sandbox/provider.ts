// The sandbox seam: the e2b SDK configured from env. E2B_API_URL/E2B_SANDBOX_URL point it at the
// local E2B-compatible host; unset, the same calls go to real E2B. Every control-plane call runs
// under a deadline whose timer is cleared when the call settles, and a sandbox's envd route (learnt
// from a connect) is kept in this isolate so a request that finds it can skip the control plane.
import { CommandExitError, Sandbox, SandboxNotFoundError, TimeoutError } from 'e2b';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

/** Connection settings for the provider. */
export interface ProviderOptions {
  apiKey: string;
  apiUrl?: string;
  sandboxUrl?: string;
  template: string;
  requestTimeoutMs: number;
}

/** Result of one command in a sandbox; a non-zero exit code is a value, not an exception. */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options of one command run. */
export interface RunOptions {
  cwd?: string;
  envs?: Record<string, string>;
  timeoutMs?: number;
}

/** Builds provider options from the parsed config. */
export function providerOptions(cfg: Config): ProviderOptions {
  if (!cfg.E2B_API_KEY) throw new AppError('PROVIDER_ERROR', 'sandbox provider is not configured (E2B_API_KEY)');
  return {
    apiKey: cfg.E2B_API_KEY,
    apiUrl: cfg.E2B_API_URL || undefined,
    sandboxUrl: cfg.E2B_SANDBOX_URL || undefined,
    template: cfg.E2B_TEMPLATE,
    requestTimeoutMs: cfg.E2B_CREATE_TIMEOUT_MS,
  };
}

/**
 * Deadline of one unary envd call made through a sandbox handle (file reads and writes, process
 * lists). The SDK arms an AbortSignal.timeout per such call that lives until it fires, so it is kept
 * short; commands and streams clear their own timers.
 */
export const ENVD_REQUEST_TIMEOUT_MS = 20_000;

/** Extra life asked for on a create and on a connect that has to extend a sandbox, so the next callers need no connect. */
export const EXTEND_SLACK_MS = 15 * 60_000;

/** Routes kept per isolate at most (oldest dropped first). */
const MAX_ROUTES = 2_000;

function conn(p: ProviderOptions) {
  return { apiKey: p.apiKey, apiUrl: p.apiUrl, sandboxUrl: p.sandboxUrl };
}

/**
 * Runs one SDK call under a deadline of `ms` whose timer is cleared when the call settles. The
 * SDK's own per-request AbortSignal.timeout stays armed for the whole timeout after the answer, and
 * under load those timers pile up to workerd's limit; `requestTimeoutMs: 0` turns it off.
 */
export async function withDeadline<T>(ms: number, call: (o: { requestTimeoutMs: 0; signal: AbortSignal }) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new DOMException(`the provider call timed out after ${ms} ms`, 'TimeoutError')), ms);
  try {
    return await call({ requestTimeoutMs: 0, signal: ac.signal });
  } finally {
    clearTimeout(timer);
  }
}

/** How envd of a running sandbox is reached (its access token is a secret: memory only, never logged). */
interface EnvdRoute {
  sandboxDomain?: string;
  envdVersion: string;
  envdAccessToken?: string;
  trafficAccessToken?: string;
  /** The sandbox lives at least until then (a connect only ever extends a running sandbox's life). */
  liveUntil: number;
}

const routes = new Map<string, EnvdRoute>();

// A subclass reaches the SDK's protected connect call, which answers the route without building a handle.
class RoutedSandbox extends Sandbox {
  static route(sandboxId: string, opts: Parameters<typeof Sandbox.connect>[1]) {
    return this.connectSandbox(sandboxId, opts);
  }

  static created(template: string, timeoutMs: number, opts: Parameters<typeof Sandbox.create>[1]) {
    return this.createSandbox(template, timeoutMs, opts);
  }
}

function routeOf(info: Omit<EnvdRoute, 'liveUntil' | 'sandboxDomain'> & { sandboxDomain?: string | undefined }, liveUntil: number): EnvdRoute {
  return { sandboxDomain: info.sandboxDomain, envdVersion: info.envdVersion, envdAccessToken: info.envdAccessToken, trafficAccessToken: info.trafficAccessToken, liveUntil };
}

function handleFor(p: ProviderOptions, sandboxId: string, r: EnvdRoute): Sandbox {
  return new Sandbox({
    ...conn(p),
    requestTimeoutMs: ENVD_REQUEST_TIMEOUT_MS,
    sandboxId,
    sandboxDomain: r.sandboxDomain,
    envdVersion: r.envdVersion,
    envdAccessToken: r.envdAccessToken,
    trafficAccessToken: r.trafficAccessToken,
  });
}

function remember(sandboxId: string, r: EnvdRoute): void {
  routes.delete(sandboxId);
  routes.set(sandboxId, r);
  if (routes.size > MAX_ROUTES) routes.delete(routes.keys().next().value as string);
}

/** Drops what this isolate knows of a sandbox (it was killed, or a call through its route failed). */
export function forgetSandbox(sandboxId: string): void {
  routes.delete(sandboxId);
}

/** Creates a sandbox that lives `timeoutMs` (plus EXTEND_SLACK_MS) unless extended; returns its provider id. */
export async function createSandbox(p: ProviderOptions, timeoutMs: number, metadata: Record<string, string>): Promise<string> {
  const t0 = Date.now();
  // With the slack, the setup that follows finds the route (it asks for the same life a moment later).
  const ask = timeoutMs + EXTEND_SLACK_MS;
  const info = await withDeadline(p.requestTimeoutMs, (o) => RoutedSandbox.created(p.template, ask, { ...conn(p), ...o, metadata }));
  remember(info.sandboxId, routeOf(info, t0 + ask));
  return info.sandboxId;
}

/** Connects to a running sandbox through the control plane, extending its life to at least `timeoutMs` from now. */
export async function connectSandbox(p: ProviderOptions, sandboxId: string, timeoutMs: number): Promise<Sandbox> {
  // Asking for the slack too lets the next callers of this sandbox find it in the route cache.
  const ask = timeoutMs + EXTEND_SLACK_MS;
  const t0 = Date.now();
  try {
    const info = await withDeadline(p.requestTimeoutMs, (o) => RoutedSandbox.route(sandboxId, { ...conn(p), ...o, timeoutMs: ask }));
    const r = routeOf(info, t0 + ask);
    remember(sandboxId, r);
    return handleFor(p, sandboxId, r);
  } catch (e) {
    forgetSandbox(sandboxId);
    if (e instanceof SandboxNotFoundError) throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox is gone', { cause: e });
    throw e;
  }
}

/**
 * A handle on a sandbox that lives at least `timeoutMs` from now: from this isolate's route cache
 * when it knows the sandbox lives that long (`cached: true`, no control-plane call), else from a
 * connect. A cached handle may point at a sandbox killed since: callers treat a failed call through
 * it with `confirmAlive`.
 */
export async function attachSandbox(p: ProviderOptions, sandboxId: string, timeoutMs: number): Promise<{ sbx: Sandbox; cached: boolean }> {
  const r = routes.get(sandboxId);
  if (r && r.liveUntil >= Date.now() + timeoutMs) return { sbx: handleFor(p, sandboxId, r), cached: true };
  return { sbx: await connectSandbox(p, sandboxId, timeoutMs), cached: false };
}

/**
 * After a call through a cached handle failed: forgets the route and asks the control plane whether
 * the sandbox still runs. A gone sandbox throws SANDBOX_UNAVAILABLE; a live one returns, and the
 * caller reports its own error.
 */
export async function confirmAlive(p: ProviderOptions, sandboxId: string): Promise<void> {
  forgetSandbox(sandboxId);
  if (!(await isAlive(p, sandboxId))) throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox is gone');
}

/** Kills a sandbox; false when it was already gone. */
export async function killSandbox(p: ProviderOptions, sandboxId: string): Promise<boolean> {
  forgetSandbox(sandboxId);
  return withDeadline(p.requestTimeoutMs, (o) => Sandbox.kill(sandboxId, { ...conn(p), ...o }));
}

/** Control-plane liveness (does not touch envd, so it does not keep an idle sandbox busy). */
export async function isAlive(p: ProviderOptions, sandboxId: string): Promise<boolean> {
  try {
    const info = await withDeadline(p.requestTimeoutMs, (o) => Sandbox.getInfo(sandboxId, { ...conn(p), ...o }));
    return info.state === 'running';
  } catch (e) {
    if (e instanceof SandboxNotFoundError) return false;
    throw e;
  }
}

/** Lists provider sandbox ids carrying the given metadata. */
export async function listSandboxIds(p: ProviderOptions, metadata: Record<string, string>): Promise<string[]> {
  const out: string[] = [];
  await withDeadline(p.requestTimeoutMs, async (o) => {
    const pager = Sandbox.list({ ...conn(p), ...o, query: { metadata }, limit: 100 });
    for (let i = 0; pager.hasNext && i < 100; i++) {
      for (const s of await pager.nextItems()) out.push(s.sandboxId);
    }
  });
  return out;
}

/** Runs a bash command; exit status and timeouts come back as values. */
export async function run(sbx: Sandbox, cmd: string, opts: RunOptions = {}): Promise<RunResult> {
  try {
    const r = await sbx.commands.run(cmd, { cwd: opts.cwd, envs: opts.envs, timeoutMs: opts.timeoutMs ?? 60_000 });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: false };
  } catch (e) {
    if (e instanceof CommandExitError) return { exitCode: e.exitCode, stdout: e.stdout, stderr: e.stderr, timedOut: false };
    if (e instanceof TimeoutError) return { exitCode: 124, stdout: '', stderr: String(e.message), timedOut: true };
    if (e instanceof SandboxNotFoundError) throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox is gone', { cause: e });
    throw e;
  }
}

export type { Sandbox };
