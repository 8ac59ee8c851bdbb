// Files and exec inside a lease's repo: repo-relative paths only, no traversal or symlink escape,
// bounded command output and a timeout.
import { execScript } from '../sandbox/exec-script.ts';
import { AppError } from '../errors.ts';
import { assertRepoPath } from '../git/validate.ts';
import { markers } from '../git/status.ts';
import { cutUtf8, runBounded } from '../sandbox/bounded-run.ts';
import { run, type Sandbox } from '../sandbox/provider.ts';
import type { ServiceContext } from './context.ts';
import { withOperation } from './git-ops.ts';

/**
 * Resolves `rel` inside the workdir with realpath and refuses anything that leaves it or enters .git
 * (symlinks included); with `mustExist` the file must exist (read/delete).
 */
async function resolveInRepo(sbx: Sandbox, workdir: string, rel: string, mustExist: boolean): Promise<string> {
  const script = `root="$(realpath -e -- "$GS_WORKDIR")" || exit 2
p="$(realpath -m -- "$GS_WORKDIR/$GS_PATH")" || { echo "__GS_MISSING=1"; exit 3; }
case "$p" in "$root"/.git|"$root"/.git/*) echo "__GS_GIT=1"; exit 4;; "$root"/*) ;; *) echo "__GS_ESCAPE=1"; exit 4;; esac
${mustExist ? '[ -e "$p" ] || { echo "__GS_MISSING=1"; exit 3; }' : ''}
[ -d "$p" ] && { echo "__GS_DIR=1"; exit 5; }
echo "__GS_PATH=$p"`;
  const r = await run(sbx, script, { envs: { GS_WORKDIR: workdir, GS_PATH: rel } });
  const m = markers(r.stdout);
  if (r.exitCode === 0 && m.PATH) return m.PATH;
  if (m.MISSING) throw new AppError('FILE_NOT_FOUND', `no file ${rel} in the repository`);
  if (m.GIT) throw new AppError('INVALID_PATH', `path ${rel} resolves into .git`, { details: { field: 'path' } });
  if (m.ESCAPE) throw new AppError('INVALID_PATH', `path ${rel} resolves outside the repository (symlink escape)`, { details: { field: 'path' } });
  if (m.DIR) throw new AppError('INVALID_PATH', `path ${rel} is a directory`, { details: { field: 'path' } });
  throw new AppError('SANDBOX_UNAVAILABLE', 'could not resolve the path in the sandbox', { internal: r.stderr });
}

/** A file read: at most MAX_OUTPUT_BYTES of it, `truncated` when the file holds more. */
export interface FileRead {
  bytes: Uint8Array;
  truncated: boolean;
}

/** Reads at most `max` bytes of `abs` as a stream, so the Worker never holds more than that of the file. */
async function readCapped(sbx: Sandbox, abs: string, max: number): Promise<FileRead> {
  const stream = await sbx.files.read(abs, { format: 'stream' });
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = max - size;
      if (value.length > room) {
        parts.push(value.subarray(0, room));
        size = max;
        truncated = true;
        break;
      }
      parts.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, truncated };
}

/** Reads up to MAX_OUTPUT_BYTES of a repo file. */
export async function readFilePart(ctx: ServiceContext, agentId: string, id: string, rawPath: string): Promise<FileRead> {
  const rel = assertRepoPath(rawPath);
  return withOperation(ctx, agentId, id, 'file_read', async ({ lease, sbx }) => {
    const abs = await resolveInRepo(sbx, lease.workdir!, rel, true);
    return readCapped(sbx, abs, ctx.cfg.MAX_OUTPUT_BYTES);
  });
}

/** Reads a whole repo file's bytes; a file over MAX_OUTPUT_BYTES is refused (413). */
export async function readFile(ctx: ServiceContext, agentId: string, id: string, rawPath: string): Promise<Uint8Array> {
  const r = await readFilePart(ctx, agentId, id, rawPath);
  if (r.truncated) throw new AppError('PAYLOAD_TOO_LARGE', `file ${assertRepoPath(rawPath)} is larger than ${ctx.cfg.MAX_OUTPUT_BYTES} bytes (MAX_OUTPUT_BYTES)`);
  return r.bytes;
}

/** Writes a repo file (parents created). */
export async function writeFile(ctx: ServiceContext, agentId: string, id: string, rawPath: string, content: Uint8Array): Promise<{ path: string; bytes: number }> {
  const rel = assertRepoPath(rawPath);
  if (content.length > ctx.cfg.MAX_BODY_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `content is ${content.length} bytes (limit ${ctx.cfg.MAX_BODY_BYTES})`);
  return withOperation(ctx, agentId, id, 'file_write', async ({ lease, sbx }) => {
    const abs = await resolveInRepo(sbx, lease.workdir!, rel, false);
    await sbx.files.write(abs, content.slice().buffer);
    return { path: rel, bytes: content.length };
  });
}

/** Deletes a repo file. */
export async function deleteFile(ctx: ServiceContext, agentId: string, id: string, rawPath: string): Promise<void> {
  const rel = assertRepoPath(rawPath);
  await withOperation(ctx, agentId, id, 'file_delete', async ({ lease, sbx }) => {
    const abs = await resolveInRepo(sbx, lease.workdir!, rel, true);
    await sbx.files.remove(abs);
  });
}

/** Result of exec. */
export interface ExecResult {
  exit_code: number;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timed_out: boolean;
}


/** Runs a command in the repo with a timeout; stdout and stderr are each capped at MAX_OUTPUT_BYTES in the sandbox. */
export async function execCommand(ctx: ServiceContext, agentId: string, id: string, command: string, timeoutMs?: number): Promise<ExecResult> {
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  const limit = Math.min(timeoutMs ?? ctx.cfg.EXEC_TIMEOUT_MS, ctx.cfg.EXEC_TIMEOUT_MS);
  return withOperation(ctx, agentId, id, 'exec', async ({ lease, sbx }) => {
    const envs = { GS_WORKDIR: lease.workdir!, GS_CMD: command, GS_CAP: String(cap), GS_TIMEOUT_S: (limit / 1000).toFixed(3) };
    // The script enforces the deadline itself; the provider's timeout is only a backstop.
    const r = await runBounded(sbx, execScript(), { envs, timeoutMs: limit + 15_000, maxChars: 2 * cap + 4096 });
    const timedOut = `command timed out after ${limit} ms; it and every process it started were killed`;
    if (r.timedOut) return { exit_code: 124, stdout: '', stderr: timedOut, truncated: false, timed_out: true };
    // Anything before the header is not the command's (a login shell's profile may print first).
    const head = /(?:^|\n)__GS_EXEC rc=(-?\d+) timeout=([01]) out=(\d+) err=(\d+)\n/.exec(r.stdout);
    if (!head && r.overflow) return { exit_code: -1, stdout: cutUtf8(r.stdout, cap), stderr: cutUtf8(r.stderr, cap), truncated: true, timed_out: false };
    if (!head) throw new AppError('SANDBOX_UNAVAILABLE', 'the command runner failed in the sandbox', { internal: `exit ${r.exitCode}: ${r.stderr.slice(0, 2000)}` });
    const stdout = r.stdout.slice(head.index + head[0].length);
    const truncated = r.overflow || Number(head[3]) > cap || Number(head[4]) > cap;
    const late = head[2] === '1';
    const stderr = cutUtf8(r.stderr, cap);
    return {
      exit_code: Number(head[1]),
      stdout: cutUtf8(stdout, cap),
      stderr: late ? `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}${timedOut}` : stderr,
      truncated,
      timed_out: late,
    };
  });
}
