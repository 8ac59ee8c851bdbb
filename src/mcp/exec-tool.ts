// The MCP exec tool's body: a background job (background: true), a run whose output goes out as
// progress notifications while it runs (when the client sent a progressToken), or a plain run.
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { JobStarted } from '../contract-jobs.ts';
import * as C from '../contract.ts';
import { fromBase64, type OutputPiece } from '../lib/output-pieces.ts';
import type { ServiceContext } from '../services/context.ts';
import { startExecStream } from '../services/exec-stream.ts';
import { execCommand } from '../services/files.ts';
import { startJob } from '../services/jobs.ts';
import * as R from './render.ts';
import * as RJ from './render-jobs.ts';
import { toolResult } from './results.ts';

/** The exec tool's arguments. */
export interface ExecToolInput {
  id: string;
  command: string;
  timeout_ms?: number;
  background?: boolean;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What a progress notification says about one piece of output. */
function progressMessage(stream: 'stdout' | 'stderr', piece: OutputPiece): string {
  const text = 'text' in piece ? piece.text : `[${fromBase64(piece.base64).length} bytes of binary output]`;
  return stream === 'stderr' ? `[stderr] ${text}` : text;
}

/**
 * Runs the command, sending each piece of output as a `notifications/progress` (progress: bytes so
 * far), and answers the same result as a plain exec, with at most MAX_OUTPUT_BYTES over both streams.
 */
async function execWithProgress(svc: ServiceContext, agentId: string, input: ExecToolInput, token: string | number, extra: Extra): Promise<C.ExecResult> {
  const kept = { stdout: [] as Uint8Array[], stderr: [] as Uint8Array[] };
  let progress = 0;
  const { done } = await startExecStream(svc, agentId, input.id, input, async (stream, piece) => {
    const bytes = 'text' in piece ? new TextEncoder().encode(piece.text) : fromBase64(piece.base64);
    kept[stream].push(bytes);
    progress += bytes.length;
    await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, message: progressMessage(stream, piece) } });
  });
  const end = await done;
  const text = (parts: Uint8Array[]) => {
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return new TextDecoder().decode(all);
  };
  const stderr = text(kept.stderr);
  const note = end.timed_out ? `command timed out after ${Math.min(input.timeout_ms ?? svc.cfg.EXEC_TIMEOUT_MS, svc.cfg.EXEC_TIMEOUT_MS)} ms; it and every process it started were killed` : '';
  return {
    exit_code: end.exit_code,
    stdout: text(kept.stdout),
    stderr: note ? `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}${note}` : stderr,
    truncated: end.truncated,
    timed_out: end.timed_out,
  };
}

/** The exec tool for the calling agent. */
export async function execTool(svc: ServiceContext, agentId: string, input: ExecToolInput, extra: Extra): Promise<CallToolResult> {
  if (input.background) return toolResult(svc.log, 'exec', JobStarted, () => startJob(svc, agentId, input.id, input), RJ.jobStarted);
  const token = extra._meta?.progressToken;
  if (token === undefined) return toolResult(svc.log, 'exec', C.ExecResult, () => execCommand(svc, agentId, input.id, input.command, input.timeout_ms), R.exec);
  return toolResult(svc.log, 'exec', C.ExecResult, () => execWithProgress(svc, agentId, input, token, extra), R.exec);
}
