// Runs a command while counting its output as it streams: past a bound the stream is dropped and
// the command killed, so nothing a sandbox prints (or writes into the command's pipes) can make
// the Worker hold more than that bound.
import { CommandExitError, SandboxNotFoundError, TimeoutError, type CommandHandle } from 'e2b';
import { AppError } from '../errors.ts';
import type { RunOptions, RunResult, Sandbox } from './provider.ts';

/** Options of a bounded run: the usual ones plus the most characters (stdout + stderr) kept. */
export interface BoundedRunOptions extends RunOptions {
  maxChars: number;
}

/** A run's result; `overflow` when the output passed the bound and the command was cut off. */
export interface BoundedRunResult extends RunResult {
  overflow: boolean;
}

/** Runs a bash command with its output bounded; exit status, timeouts and overflow come back as values. */
export async function runBounded(sbx: Sandbox, cmd: string, o: BoundedRunOptions): Promise<BoundedRunResult> {
  let seen = 0;
  let handle: CommandHandle | undefined;
  let cut!: () => void;
  const overflowed = new Promise<'overflow'>((resolve) => {
    cut = () => {
      resolve('overflow');
      void handle?.kill().catch(() => false);
      void handle?.disconnect();
    };
  });
  let overflow = false;
  const count = (s: string) => {
    seen += s.length;
    if (seen > o.maxChars && !overflow) {
      overflow = true;
      cut();
    }
  };
  const partial = (): BoundedRunResult => ({
    exitCode: -1,
    stdout: (handle?.stdout ?? '').slice(0, o.maxChars),
    stderr: (handle?.stderr ?? '').slice(0, o.maxChars),
    timedOut: false,
    overflow: true,
  });
  try {
    handle = await sbx.commands.run(cmd, { background: true, cwd: o.cwd, envs: o.envs, timeoutMs: o.timeoutMs ?? 60_000, onStdout: count, onStderr: count });
    // Output may have been counted before the handle existed.
    if (overflow) cut();
    const r = await Promise.race([handle.wait(), overflowed]);
    if (r === 'overflow') return partial();
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: false, overflow: false };
  } catch (e) {
    if (overflow) return partial();
    if (e instanceof CommandExitError) return { exitCode: e.exitCode, stdout: e.stdout, stderr: e.stderr, timedOut: false, overflow: false };
    if (e instanceof TimeoutError) return { exitCode: 124, stdout: handle?.stdout ?? '', stderr: handle?.stderr ?? '', timedOut: true, overflow: false };
    if (e instanceof SandboxNotFoundError) throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox is gone', { cause: e });
    throw e;
  }
}

/** UTF-8 byte length of a string. */
export function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Cuts `s` to at most `max` UTF-8 bytes, never inside a character. */
export function cutUtf8(s: string, max: number): string {
  const b = new TextEncoder().encode(s);
  return b.length <= max ? s : new TextDecoder().decode(b.subarray(0, max)).replace(/\uFFFD$/, '');
}
