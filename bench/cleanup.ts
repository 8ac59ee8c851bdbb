// Everything the benchmark starts registers its stop function here; they run in reverse order on
// normal exit, on error and on Ctrl-C, each with a bounded timeout.
import type { ChildProcess } from 'node:child_process';

type Stop = { name: string; fn: () => Promise<void>; timeoutMs: number };

const stops: Stop[] = [];
let running: Promise<void> | undefined;

/** Registers a stop function; the returned function unregisters it (after a normal stop). */
export function onCleanup(name: string, fn: () => Promise<void>, timeoutMs = 30_000): () => void {
  const s = { name, fn, timeoutMs };
  stops.push(s);
  return () => {
    const i = stops.indexOf(s);
    if (i >= 0) stops.splice(i, 1);
  };
}

/** Runs every registered stop function (latest first), each bounded by its timeout. */
export function cleanupAll(log: (s: string) => void = () => {}): Promise<void> {
  running ??= (async () => {
    for (const s of stops.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => {
        timer = setTimeout(() => {
          log(`cleanup: ${s.name} did not finish within ${s.timeoutMs} ms`);
          r();
        }, s.timeoutMs);
      });
      await Promise.race([s.fn().catch((e) => log(`cleanup: ${s.name} failed: ${e}`)), timeout]);
      clearTimeout(timer);
    }
  })().finally(() => {
    running = undefined;
  });
  return running;
}

const groups = new Set<ChildProcess>();
let exitHook = false;

/** Remembers a detached child so a hard exit (second Ctrl-C, crash) still SIGKILLs its group. */
export function trackGroup(child: ChildProcess): void {
  groups.add(child);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of groups) killGroup(c, 'SIGKILL');
    });
  }
}

/** True while the child has neither exited nor been killed by a signal. */
export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Sends `signal` to the child's whole process group (it must have been spawned detached). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // group already gone
  }
}

/** Stops a detached child: SIGTERM to its group, SIGKILL after `graceMs`, then SIGKILL to leftovers. */
export async function stopGroup(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (alive(child)) {
    const exited = new Promise((r) => child.once('exit', r));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs + 2000))]);
    clearTimeout(timer);
  }
  killGroup(child, 'SIGKILL');
  groups.delete(child);
}

export { freePort } from '../local/postgres.ts';

/** Resolves after `ms`, or rejects early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
