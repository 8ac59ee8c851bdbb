// Shared setup of the local E2B host conformance tests: one host per test file, sandboxes made
// through the real SDK and killed afterwards, small polling helpers, and host-side views of a
// sandbox's processes (by pid namespace, so they work with and without isolation).
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { afterAll, beforeAll, expect } from 'vitest';
import { Sandbox } from 'e2b';
import { startE2BHost, type E2BHost, type E2BHostOptions } from '../../../local/e2b-host/index.ts';

/** The host of the current test file (set by useLocalHost). */
export let host: E2BHost;
/** SDK connection options for `host`. */
export let opts: { apiKey: string; apiUrl: string; sandboxUrl: string };
const cleanup: Sandbox[] = [];

/** Starts a host before the file's tests and stops it after, checking its root was removed. */
export function useLocalHost(options: E2BHostOptions = {}): void {
  beforeAll(async () => {
    host = await startE2BHost(options);
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

/** The sandbox's pid namespace as `pid:[inode]` (the host's own when it is not isolated). */
export async function pidNamespace(sbx: Sandbox): Promise<string> {
  return (await sbx.commands.run('readlink /proc/self/ns/pid')).stdout.trim();
}

/** Host pids of the live processes in pid namespace `ns`, with the pid each has inside it. */
export async function processesIn(ns: string): Promise<Array<{ host: number; inside: number }>> {
  const out: Array<{ host: number; inside: number }> = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if ((await readlink(`/proc/${d}/ns/pid`)) !== ns) continue;
      const status = await readFile(`/proc/${d}/status`, 'utf8');
      if (/^State:\s+[ZX]/m.test(status)) continue;
      const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1].trim().split(/\s+/) ?? [d];
      out.push({ host: Number(d), inside: Number(nspid[nspid.length - 1]) });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Whether the process the sandbox knows as `pid` (in namespace `ns`) is alive on the host. */
export async function isAliveIn(ns: string, pid: number): Promise<boolean> {
  return (await processesIn(ns)).some((p) => p.inside === pid);
}
