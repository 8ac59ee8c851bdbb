// Local E2B-compatible sandbox host: one node:http server serving both the control plane
// (apiUrl) and envd (sandboxUrl) for the unmodified `e2b` SDK. See docs/e2b-protocol.md.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, realpath, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RpcError, sendUnaryError } from './connect-codec.ts';
import { handleControl } from './control-plane.ts';
import { handleEnvd, isEnvdRequest } from './envd-router.ts';
import { HttpError, sendRestError } from './http-util.ts';
import { Spawner } from './spawner.ts';
import { SandboxStore } from './store.ts';

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
  /** Log sink (never receives keys or tokens). */
  log?: (line: string) => void;
}

/** A running host. `url` is both the SDK's `apiUrl` and `sandboxUrl`. */
export interface E2BHost {
  url: string;
  apiKey: string;
  root: string;
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

/** Starts the host and resolves once it is listening. */
export async function startE2BHost(opts: E2BHostOptions = {}): Promise<E2BHost> {
  const log = opts.log ?? (() => {});
  const apiKey = opts.apiKey ?? `e2b_local_${randomBytes(20).toString('hex')}`;
  const rootWanted = path.resolve(opts.root ?? path.join(os.tmpdir(), `git-sandbox-e2b-${process.pid}-${++instances}`));
  const createdRoot = !existsSync(rootWanted);
  await mkdir(rootWanted, { recursive: true });
  const root = await realpath(rootWanted);

  const spawner = new Spawner(opts.spawnWorkers ?? 2, log);
  const store = new SandboxStore({
    root, log, spawner,
    defaultTimeoutS: opts.defaultTimeoutS ?? 300,
    maxSandboxes: opts.maxSandboxes ?? 0,
    createLatencyMs: opts.createLatencyMs ?? 0,
  });
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
  log(`e2b host listening on ${url} (root ${root})`);

  let stopping: Promise<void> | undefined;
  return {
    url, apiKey, root,
    failNextCreates: (n, status) => store.failNextCreates(n, status),
    setCreateLatency: (ms) => { store.opts.createLatencyMs = Math.max(0, ms); },
    sandboxCount: () => store.size,
    stop: () => (stopping ??= (async () => {
      await store.stopAll();
      await spawner.close();
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      process.off('exit', onExit);
      if (createdRoot) await rm(root, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
      log('e2b host stopped');
    })()),
  };
}
