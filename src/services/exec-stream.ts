// exec with its output handed over as it is printed (REST server-sent events, MCP progress): the
// same command runner rules as exec (repo dir, timeout, every process killed at the deadline), with
// at most MAX_OUTPUT_BYTES forwarded over both streams together.
import { PieceSplitter, type OutputPiece } from '../lib/output-pieces.ts';
import { streamExec } from '../sandbox/stream-exec.ts';
import type { ServiceContext } from './context.ts';
import { withOperation } from './git-ops.ts';

/** What to run. */
export interface ExecStreamInput {
  command: string;
  timeout_ms?: number;
}

/** How a streamed command ended. */
export interface ExecStreamEnd {
  exit_code: number;
  timed_out: boolean;
  truncated: boolean;
}

/** Receives each piece of output in order; the command's output waits for it. */
export type PieceSink = (stream: 'stdout' | 'stderr', piece: OutputPiece) => Promise<void> | void;

/**
 * Starts `input.command` on the caller's lease. Resolves once the lease is open and the command is
 * on its way, with `done`, the promise of its end; a failure before that (unknown lease, lease not
 * ready) rejects, so the caller can still answer it as a plain error.
 */
export async function startExecStream(ctx: ServiceContext, agentId: string, id: string, input: ExecStreamInput, sink: PieceSink, signal?: AbortSignal): Promise<{ done: Promise<ExecStreamEnd> }> {
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  const limit = Math.min(input.timeout_ms ?? ctx.cfg.EXEC_TIMEOUT_MS, ctx.cfg.EXEC_TIMEOUT_MS);
  let opened!: () => void;
  const open = new Promise<void>((r) => (opened = r));
  const done = withOperation(ctx, agentId, id, 'exec', async ({ lease, sbx }) => {
    opened();
    const splitters = { stdout: new PieceSplitter(), stderr: new PieceSplitter() };
    let forwarded = 0;
    let truncated = false;
    const end = await streamExec(sbx, { workdir: lease.workdir!, command: input.command, timeoutMs: limit, capBytes: cap, mark: crypto.randomUUID(), signal }, async (stream, bytes) => {
      if (truncated) return;
      let chunk = bytes;
      if (forwarded + chunk.length > cap) {
        chunk = chunk.subarray(0, cap - forwarded);
        truncated = true;
      }
      forwarded += chunk.length;
      const piece = splitters[stream].push(chunk);
      if (piece) await sink(stream, piece);
    });
    // A character cut by the cap is dropped; one left incomplete by the command is sent as it is.
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = splitters[stream].flush();
      if (rest && !truncated) await sink(stream, rest);
    }
    if (end.timedOut) return { exit_code: 124, timed_out: true, truncated };
    return { exit_code: end.exitCode, timed_out: false, truncated: truncated || end.overflow };
  });
  await Promise.race([open, done]);
  return { done };
}
