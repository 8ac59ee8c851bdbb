// Shared setup of the local E2B host conformance tests: one host per test file, sandboxes made
// through the real SDK and killed afterwards, and small polling helpers.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect } from 'vitest';
import { Sandbox } from 'e2b';
import { startE2BHost, type E2BHost } from '../../../local/e2b-host/index.ts';

/** The host of the current test file (set by useLocalHost). */
export let host: E2BHost;
/** SDK connection options for `host`. */
export let opts: { apiKey: string; apiUrl: string; sandboxUrl: string };
const cleanup: Sandbox[] = [];

/** Starts a host before the file's tests and stops it after, checking its root was removed. */
export function useLocalHost(): void {
  beforeAll(async () => {
    host = await startE2BHost();
    opts = { apiKey: host.apiKey, apiUrl: host.url, sandboxUrl: host.url };
  });
  afterAll(async () => {
    await Promise.all(cleanup.splice(0).map((s) => s.kill().catch(() => {})));
    const root = host.root;
    await host.stop();
    expect(existsSync(root)).toBe(false);
  });
}

/** Creates a sandbox on `host` that is killed when the file ends. */
export async function create(extra: Parameters<typeof Sandbox.create>[1] = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create('base', { ...opts, timeoutMs: 120_000, ...extra });
  cleanup.push(sbx);
  return sbx;
}

/** Alive = exists and is not a zombie (PID 1 in a container may never reap orphans). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `cond` every 50 ms until it holds, failing after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
