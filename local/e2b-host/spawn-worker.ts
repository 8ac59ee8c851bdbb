// Spawns one child process and reports its life as plain events. Runs inside a worker thread
// (so fork/exec never blocks the HTTP event loop) or directly on the main thread.
import { spawn } from 'node:child_process';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

/** What to spawn. `stdin: false` means stdin is /dev/null. */
export interface SpawnRequest { cmd: string; args: string[]; cwd: string; env: Record<string, string>; stdin: boolean }

/** Events of one child, in order: spawned|error, data*, exit, close. */
export type ChildEvent =
  | { t: 'spawned'; pid: number }
  | { t: 'error'; message: string }
  | { t: 'data'; kind: 'stdout' | 'stderr'; chunk: Uint8Array }
  | { t: 'exit'; code: number | null; signal: string | null }
  | { t: 'close'; code: number | null; signal: string | null };

/** Commands a parent can send about a live child. */
export interface ChildControl { write(data: Uint8Array): void; end(): void; destroyStdio(): void }

/** Spawns in its own process group (detached) and streams events to `emit`. */
export function startChild(req: SpawnRequest, emit: (ev: ChildEvent) => void): ChildControl | undefined {
  let child;
  try {
    child = spawn(req.cmd, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  } catch (err) {
    emit({ t: 'error', message: (err as Error).message });
    return undefined;
  }
  if (child.pid === undefined) {
    child.once('error', (err) => emit({ t: 'error', message: err.message }));
    return undefined;
  }
  emit({ t: 'spawned', pid: child.pid });
  child.stdout!.on('data', (chunk: Buffer) => emit({ t: 'data', kind: 'stdout', chunk }));
  child.stderr!.on('data', (chunk: Buffer) => emit({ t: 'data', kind: 'stderr', chunk }));
  child.stdin?.on('error', () => { /* EPIPE after exit */ });
  child.on('error', () => { /* reported through close */ });
  child.on('exit', (code, signal) => emit({ t: 'exit', code, signal }));
  child.on('close', (code, signal) => emit({ t: 'close', code, signal }));
  const stdin = child.stdin;
  return {
    write: (data) => { if (stdin && !stdin.writableEnded && !stdin.destroyed) stdin.write(data); },
    end: () => { if (stdin && !stdin.writableEnded) stdin.end(); },
    destroyStdio: () => { child.stdout?.destroy(); child.stderr?.destroy(); },
  };
}

/** Worker protocol: in {op:'spawn',id,req}|{op:'write',id,data}|{op:'end',id}|{op:'destroy',id}; out {id, ev}. */
if (!isMainThread && parentPort && (workerData as { e2bSpawnWorker?: boolean } | undefined)?.e2bSpawnWorker) {
  const port = parentPort;
  const live = new Map<number, ChildControl>();
  port.on('message', (m: { op: string; id: number; req?: SpawnRequest; data?: Uint8Array }) => {
    if (m.op === 'spawn') {
      const ctl = startChild(m.req!, (ev) => {
        if (ev.t === 'data') {
          // Copy to an exact-size buffer and transfer it (cloning a pooled Buffer copies the pool).
          const chunk = new Uint8Array(ev.chunk);
          port.postMessage({ id: m.id, ev: { t: 'data', kind: ev.kind, chunk } }, [chunk.buffer]);
          return;
        }
        if (ev.t === 'close' || ev.t === 'error') live.delete(m.id);
        port.postMessage({ id: m.id, ev });
      });
      if (ctl) live.set(m.id, ctl);
      return;
    }
    const ctl = live.get(m.id);
    if (!ctl) return;
    if (m.op === 'write') ctl.write(m.data!);
    else if (m.op === 'end') ctl.end();
    else if (m.op === 'destroy') ctl.destroyStdio();
  });
}
