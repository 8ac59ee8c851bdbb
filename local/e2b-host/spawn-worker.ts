// Spawns one child process and reports its life as plain events. Runs inside a worker thread
// (so fork/exec never blocks the HTTP event loop) or directly on the main thread.
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

/**
 * What to spawn. `stdin: false` means stdin is /dev/null. With `report`, the child's fd 3 is a pipe
 * on which it writes its pid (as its own pid namespace sees it) or `cwd` when it could not enter its
 * working directory; with `control`, fd 4 is a pipe the parent writes to (PTY resizes).
 */
export interface SpawnRequest {
  cmd: string; args: string[]; cwd: string; env: Record<string, string>; stdin: boolean;
  report?: boolean; control?: boolean;
}

/** Events of one child, in order: spawned|error, data*, exit, close. */
export type ChildEvent =
  | { t: 'spawned'; pid: number; nsPid: number }
  | { t: 'error'; message: string; code?: 'cwd' }
  | { t: 'data'; kind: 'stdout' | 'stderr'; chunk: Uint8Array }
  | { t: 'exit'; code: number | null; signal: string | null }
  | { t: 'close'; code: number | null; signal: string | null };

/** Commands a parent can send about a live child. */
export interface ChildControl { write(data: Uint8Array): void; end(): void; destroyStdio(): void; control(line: string): void }

/**
 * Spawns in its own process group (detached) and streams events to `emit`. With `report`, events
 * are held back until the child has said its pid, and a child that could not start is one `error`.
 */
export function startChild(req: SpawnRequest, emit: (ev: ChildEvent) => void): ChildControl | undefined {
  let child;
  const stdio: Array<'pipe' | 'ignore'> = [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  if (req.report || req.control) stdio.push(req.report ? 'pipe' : 'ignore');
  if (req.control) stdio.push('pipe');
  try {
    child = spawn(req.cmd, req.args, { cwd: req.cwd, env: req.env, detached: true, stdio });
  } catch (err) {
    emit({ t: 'error', message: (err as Error).message });
    return undefined;
  }
  if (child.pid === undefined) {
    child.once('error', (err) => emit({ t: 'error', message: err.message }));
    return undefined;
  }
  const pid = child.pid;
  let held: ChildEvent[] | undefined;
  let failed = false;
  let early = '';
  const out = (ev: ChildEvent) => {
    if (failed) return;
    if (held) { held.push(ev); if (ev.t === 'data' && ev.kind === 'stderr') early += Buffer.from(ev.chunk).toString(); return; }
    emit(ev);
  };
  if (req.report) {
    held = [];
    const report = child.stdio[3] as Readable;
    let line = '';
    const settle = (text: string | undefined) => {
      if (!held) return;
      const queued = held;
      held = undefined;
      const nsPid = Number(text);
      if (text !== undefined && Number.isInteger(nsPid) && nsPid > 0) {
        emit({ t: 'spawned', pid, nsPid });
        for (const ev of queued) emit(ev);
        return;
      }
      failed = true;
      if (text === 'cwd') emit({ t: 'error', message: 'cwd', code: 'cwd' });
      else emit({ t: 'error', message: early.trim() || 'the process did not start' });
    };
    report.on('data', (c: Buffer) => {
      line += c.toString('utf8');
      const nl = line.indexOf('\n');
      if (nl >= 0) settle(line.slice(0, nl));
    });
    report.on('error', () => {});
    // Without a line the child failed before its shim ran; its stderr (held) says why.
    child.once('close', () => settle(undefined));
  } else {
    emit({ t: 'spawned', pid, nsPid: pid });
  }
  child.stdout!.on('data', (chunk: Buffer) => out({ t: 'data', kind: 'stdout', chunk }));
  child.stderr!.on('data', (chunk: Buffer) => out({ t: 'data', kind: 'stderr', chunk }));
  child.stdin?.on('error', () => { /* EPIPE after exit */ });
  child.on('error', () => { /* reported through close */ });
  child.on('exit', (code, signal) => out({ t: 'exit', code, signal }));
  child.on('close', (code, signal) => out({ t: 'close', code, signal }));
  const stdin = child.stdin;
  const ctl = req.control ? (child.stdio[4] as Writable) : undefined;
  ctl?.on('error', () => {});
  return {
    write: (data) => { if (stdin && !stdin.writableEnded && !stdin.destroyed) stdin.write(data); },
    end: () => { if (stdin && !stdin.writableEnded) stdin.end(); },
    destroyStdio: () => { child.stdout?.destroy(); child.stderr?.destroy(); },
    control: (text) => { if (ctl && !ctl.destroyed) ctl.write(text); },
  };
}

/** Worker protocol: in {op:'spawn',id,req}|{op:'write',id,data}|{op:'end',id}|{op:'destroy',id}|{op:'control',id,text}; out {id, ev}. */
if (!isMainThread && parentPort && (workerData as { e2bSpawnWorker?: boolean } | undefined)?.e2bSpawnWorker) {
  const port = parentPort;
  const live = new Map<number, ChildControl>();
  port.on('message', (m: { op: string; id: number; req?: SpawnRequest; data?: Uint8Array; text?: string }) => {
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
    else if (m.op === 'control') ctl.control(m.text!);
  });
}
