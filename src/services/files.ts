// Files and exec inside a lease's repo: repo-relative paths only, no traversal or symlink escape,
// bounded command output and a timeout.
import { AppError } from '../errors.ts';
import { assertRepoPath } from '../git/validate.ts';
import { markers } from '../git/status.ts';
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

/** Reads a repo file's bytes. */
export async function readFile(ctx: ServiceContext, agentId: string, id: string, rawPath: string): Promise<Uint8Array> {
  const rel = assertRepoPath(rawPath);
  return withOperation(ctx, agentId, id, 'file_read', async ({ lease, sbx }) => {
    const abs = await resolveInRepo(sbx, lease.workdir!, rel, true);
    const bytes = await sbx.files.read(abs, { format: 'bytes' });
    if (bytes.length > ctx.cfg.MAX_OUTPUT_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `file ${rel} is ${bytes.length} bytes (limit ${ctx.cfg.MAX_OUTPUT_BYTES})`);
    return bytes;
  });
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

/** Runs a command in the repo with a timeout; stdout and stderr are each capped at MAX_OUTPUT_BYTES. */
export async function execCommand(ctx: ServiceContext, agentId: string, id: string, command: string, timeoutMs?: number): Promise<ExecResult> {
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  const limit = Math.min(timeoutMs ?? ctx.cfg.EXEC_TIMEOUT_MS, ctx.cfg.EXEC_TIMEOUT_MS);
  return withOperation(ctx, agentId, id, 'exec', async ({ lease, sbx }) => {
    // The command arrives through an env var and runs in its own bash. Output goes to files and only
    // the first cap+1 bytes come back, so a chatty command cannot flood the service; files (not
    // pipes) also let the command leave background processes behind without holding the call open.
    const script = `cd "$GS_WORKDIR" || exit 1
o="$(mktemp)"; e="$(mktemp)"
bash -c "$GS_CMD" </dev/null >"$o" 2>"$e"; rc=$?
head -c ${cap + 1} "$o"; head -c ${cap + 1} "$e" >&2
rm -f "$o" "$e"; exit $rc`;
    const r = await run(sbx, script, { envs: { GS_WORKDIR: lease.workdir!, GS_CMD: command }, timeoutMs: limit });
    const cut = (s: string) => (new TextEncoder().encode(s).length > cap ? new TextDecoder().decode(new TextEncoder().encode(s).slice(0, cap)) : s);
    const truncated = new TextEncoder().encode(r.stdout).length > cap || new TextEncoder().encode(r.stderr).length > cap;
    return { exit_code: r.exitCode, stdout: cut(r.stdout), stderr: cut(r.stderr), truncated, timed_out: r.timedOut };
  });
}
