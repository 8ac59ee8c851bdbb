// Parent side of the embedded stack: starts bench/stack-process.ts, and talks to the local E2B host's
// control plane to set the modelled create latency and to kill every sandbox between scenarios.
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import type { StackInfo } from '../local/stack.ts';
import { spawnStackChild } from '../local/stack-spawn.ts';
import { alive, onCleanup, sleep } from './cleanup.ts';

/** A running stack child. */
export interface StackProcess {
  pid: number | undefined;
  info: StackInfo;
  /** The Worker env that points it at this stack (secrets and URLs). */
  bindings: Record<string, string>;
  stop(): Promise<void>;
}

/** Options of startStackProcess. */
export interface StackProcessOptions {
  dir: string;
  createLatencyMs: number;
  logFile: string;
  timeoutMs?: number;
}

/** Starts the stack in a child process and resolves with its addresses once it is ready. */
export async function startStackProcess(opts: StackProcessOptions): Promise<StackProcess> {
  const entry = path.join(import.meta.dirname, 'stack-process.ts');
  const log = createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 });
  let unregister = () => {};
  try {
    const started = await spawnStackChild<{ info: StackInfo; bindings: Record<string, string> }>(entry, [opts.dir, String(opts.createLatencyMs)], {
      stderr: log,
      timeoutMs: opts.timeoutMs,
    });
    const stop = async () => {
      await started.stop();
      log.end();
    };
    unregister = onCleanup('stack', stop, 35_000);
    return {
      ...started.ready,
      pid: started.child.pid,
      stop: async () => {
        unregister();
        await stop();
      },
    };
  } catch (e) {
    log.end();
    throw new Error(`${e instanceof Error ? e.message : String(e)}; see ${opts.logFile}`);
  }
}

async function e2b(info: StackInfo, method: string, p: string, body?: unknown): Promise<Response> {
  return fetch(`${info.e2b_api_url}${p}`, {
    method,
    headers: { 'x-api-key': info.e2b_api_key, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
}

/** Counts of the local E2B host (live sandboxes, configured latency). */
export async function e2bStats(info: StackInfo): Promise<{ sandboxes: number; running: number; createLatencyMs: number }> {
  return (await (await e2b(info, 'GET', '/_local/stats')).json()) as never;
}

/** Sets the local E2B host's modelled create latency. */
export async function setCreateLatency(info: StackInfo, ms: number): Promise<void> {
  const r = await e2b(info, 'POST', '/_local/create-latency', { ms });
  if (!r.ok) throw new Error(`setting the create latency failed: ${r.status}`);
}

/** Kills every sandbox on the local E2B host and waits (bounded) until none is left. */
export async function killAllSandboxes(info: StackInfo, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const killed = new Set<string>();
  while (Date.now() < deadline) {
    const r = await e2b(info, 'GET', '/sandboxes?state=running,paused');
    const list = (await r.json()) as { sandboxID: string }[];
    if (!list.length) return killed.size;
    for (let i = 0; i < list.length; i += 20) {
      await Promise.all(list.slice(i, i + 20).map((s) => e2b(info, 'DELETE', `/sandboxes/${s.sandboxID}`).then((x) => x.body?.cancel(), () => {})));
    }
    for (const s of list) killed.add(s.sandboxID);
    await sleep(250);
  }
  throw new Error(`sandboxes still alive ${timeoutMs} ms after killing them`);
}
