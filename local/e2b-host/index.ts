// Local E2B-compatible sandbox host: one node:http server serving both the control plane
// (apiUrl) and envd (sandboxUrl) for the unmodified `e2b` SDK, with each sandbox isolated by
// bubblewrap where the host allows it. See docs/e2b-protocol.md and local/ISOLATION.md.
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, realpath, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RpcError, sendUnaryError } from './connect-codec.ts';
import { handleControl } from './control-plane.ts';
import { handleEnvd, isEnvdRequest } from './envd-router.ts';
import { HttpError, sendRestError } from './http-util.ts';
import { Isolation, SANDBOX_UID, detectTools, pickUidBase, type IsolationMode, type IsolationStatus } from './isolation.ts';
import { MetadataStore } from './metadata.ts';
import { MetricsSampler } from './metrics.ts';
import { startSandboxRoot } from './sandbox-root.ts';
import { Spawner } from './spawner.ts';
import { SandboxStore } from './store.ts';

export type { IsolationMode, IsolationStatus } from './isolation.ts';

/** Options of {@link startE2BHost}. */
export interface E2BHostOptions {
  /** Listen port; 0 (default) picks a free one. */
  port?: number;
  /** Listen address, default 127.0.0.1. */
  host?: string;
  /** API key clients must send as `X-API-KEY`; random if unset. */
  apiKey?: string;
  /** Directory holding one sub-directory per sandbox; default os.tmpdir()/git-sandbox-e2b-<pid>-<n>. */
  root?: string;
  /** Artificial delay before a create answers (models E2B cold starts). */
  createLatencyMs?: number;
  /** Max running sandboxes; creates beyond it get 429 + Retry-After. 0/unset = unlimited. */
  maxSandboxes?: number;
  /** Sandbox lifetime when the create request carries no timeout (default 300 s). */
  defaultTimeoutS?: number;
  /** Worker threads used to fork/exec children off the HTTP event loop (default 2; 0 = main thread). */
  spawnWorkers?: number;
  /**
   * `auto` (default; env E2B_LOCAL_ISOLATION) isolates sandboxes with bubblewrap when the host
   * allows it, `off` runs them as plain host directories, `required` fails to start without it.
   */
  isolation?: IsolationMode;
  /** Interval of the per-sandbox CPU/memory samples (default 5000 ms, like E2B). */
  metricsIntervalMs?: number;
  /** Log sink (never receives keys or tokens). */
  log?: (line: string) => void;
}

/** A running host. `url` is both the SDK's `apiUrl` and `sandboxUrl`. */
export interface E2BHost {
  url: string;
  apiKey: string;
  root: string;
  /** Whether sandboxes are isolated, and if not, why (for `npm start` to print). */
  isolation: IsolationStatus;
  /** Makes the next `n` creates fail (HTTP `status`, default 500 → SandboxError). */
  failNextCreates(n: number, status?: number): void;
  setCreateLatency(ms: number): void;
  /** Live sandboxes (running or paused). */
  sandboxCount(): number;
  /** Kills every sandbox, closes the server and removes the root directory it created. */
  stop(): Promise<void>;
}

let instances = 0;

async function route(store: SandboxStore, apiKey: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local');
  const envd = isEnvdRequest(req, url);
  try {
    if (envd) await handleEnvd(store, req, res, url);
    else await handleControl({ store, apiKey }, req, res, url);
  } catch (err) {
    if (!req.complete) req.resume();
    if (err instanceof RpcError) return sendUnaryError(res, err.code, err.message);
    if (err instanceof HttpError) return sendRestError(res, err.status, err.message, err.headers);
    store.opts.log(`internal error on ${req.method} ${url.pathname}: ${(err as Error)?.stack ?? String(err)}`);
    if (res.headersSent) res.destroy();
    else sendRestError(res, 500, `internal error: ${(err as Error)?.message ?? String(err)}`);
  }
}

/**
 * Sets up isolation for a host rooted at `root`: tools, the system overlay, and one real sandbox
 * started and entered as `user` to prove it works here. Returns why not when it does not.
 */
async function setupIsolation(root: string, log: (line: string) => void): Promise<{ iso?: Isolation; reason?: string }> {
  const { tools, reason } = detectTools();
  if (!tools) return { reason };
  const iso = new Isolation(tools, pickUidBase(), path.join(root, '.system'));
  const probe = path.join(root, '.probe');
  try {
    await iso.prepare();
    const home = path.join(probe, 'home');
    const tmp = path.join(probe, 'tmp');
    await mkdir(home, { recursive: true });
    await mkdir(tmp, { recursive: true });
    await chmod(tmp, 0o1777);
    const sbxRoot = await startSandboxRoot(iso, home, tmp);
    try {
      const argv = iso.enterArgs(sbxRoot.initPid, SANDBOX_UID, ['/bin/sh', '-c', 'cd /home/user && id -u']);
      const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
      if (r.status !== 0 || r.stdout.trim() !== String(SANDBOX_UID)) return { reason: `a probe sandbox did not run: ${(r.stderr || r.error?.message || '').trim()}` };
    } finally {
      sbxRoot.kill();
    }
    if (!iso.sudo) log('isolation: sudo is not installed on the host, so `sudo` does not work inside sandboxes');
    if (!tools.python3) log('isolation: /usr/bin/python3 not found: sandbox.pty falls back to pipes and file metadata to sidecars');
    return { iso };
  } catch (err) {
    return { reason: `bubblewrap sandbox failed to start: ${(err as Error).message}` };
  } finally {
    await rm(probe, { recursive: true, force: true }).catch(() => {});
  }
}

/** Starts the host and resolves once it is listening. */
export async function startE2BHost(opts: E2BHostOptions = {}): Promise<E2BHost> {
  const log = opts.log ?? (() => {});
  const apiKey = opts.apiKey ?? `e2b_local_${randomBytes(20).toString('hex')}`;
  const rootWanted = path.resolve(opts.root ?? path.join(os.tmpdir(), `git-sandbox-e2b-${process.pid}-${++instances}`));
  const createdRoot = !existsSync(rootWanted);
  await mkdir(rootWanted, { recursive: true });
  const root = await realpath(rootWanted);

  const mode = opts.isolation ?? (process.env.E2B_LOCAL_ISOLATION as IsolationMode | undefined) ?? 'auto';
  let iso: Isolation | undefined;
  let isolation: IsolationStatus = { enabled: false, reason: 'isolation is off (isolation: "off" / E2B_LOCAL_ISOLATION=off)' };
  if (mode !== 'off') {
    const r = await setupIsolation(root, log);
    iso = r.iso;
    isolation = iso ? { enabled: true } : { enabled: false, reason: r.reason };
    if (!iso) {
      if (mode === 'required') {
        if (createdRoot) await rm(root, { recursive: true, force: true }).catch(() => {});
        throw new Error(`sandbox isolation is required but unavailable: ${r.reason}`);
      }
      const warning = `WARNING: sandboxes are NOT isolated (they run as ${process.env.USER ?? 'this user'} on the host and can read its files): ${r.reason}`;
      log(warning);
      process.emitWarning(warning, { code: 'E2B_LOCAL_UNISOLATED' });
    }
  }

  const spawner = new Spawner(opts.spawnWorkers ?? 2, log);
  const metadata = new MetadataStore(iso ? iso.tools.python3 : (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : undefined), log);
  let storeRef: SandboxStore | undefined;
  const metrics = new MetricsSampler(opts.metricsIntervalMs ?? 5_000, () => storeRef?.all() ?? []);
  const store = new SandboxStore({
    root, log, spawner, isolation: iso, metadata, metrics,
    defaultTimeoutS: opts.defaultTimeoutS ?? 300,
    maxSandboxes: opts.maxSandboxes ?? 0,
    createLatencyMs: opts.createLatencyMs ?? 0,
  });
  storeRef = store;
  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 65_000, headersTimeout: 66_000 }, (req, res) => {
    void route(store, apiKey, req, res);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  const onExit = () => store.killAllSync();
  process.on('exit', onExit);

  const listenHost = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port ?? 0, host: listenHost, backlog: 1024 }, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = listenHost === '0.0.0.0' || listenHost === '::' ? '127.0.0.1' : listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  const url = `http://${urlHost}:${port}`;
  log(`e2b host listening on ${url} (root ${root}; sandboxes ${isolation.enabled ? 'isolated with bubblewrap' : 'NOT isolated'})`);

  let stopping: Promise<void> | undefined;
  return {
    url, apiKey, root, isolation,
    failNextCreates: (n, status) => store.failNextCreates(n, status),
    setCreateLatency: (ms) => { store.opts.createLatencyMs = Math.max(0, ms); },
    sandboxCount: () => store.size,
    stop: () => (stopping ??= (async () => {
      await store.stopAll();
      await spawner.close();
      metadata.close();
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      process.off('exit', onExit);
      if (createdRoot) await rm(root, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
      log('e2b host stopped');
    })()),
  };
}
