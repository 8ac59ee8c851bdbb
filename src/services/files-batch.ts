// Batch file writes: many files written and deleted in one call, all together or not at all. The
// contents are staged inside the clone's .git (the tree's filesystem), then write-files.sh checks
// every path and renames the staged files into place, undoing every step if any fails.
import type { FilesWritten } from '../contract-read.ts';
import { AppError } from '../errors.ts';
import { parseWriteFiles, type WriteRefusal } from '../git/read-results.ts';
import { writeFilesScript } from '../git/read-scripts.ts';
import { runBounded } from '../sandbox/bounded-run.ts';
import { run } from '../sandbox/provider.ts';
import { planBatch, type BatchWriteInput } from './batch-plan.ts';
import type { ServiceContext } from './context.ts';
import { failed, withOperation } from './git-ops.ts';

/** The error for a path write-files.sh refused. */
function refusal(reason: WriteRefusal, path: string, deleting: boolean): AppError {
  if (reason === 'missing') return new AppError('FILE_NOT_FOUND', `no file ${path} in the repository to delete; nothing was changed`, { details: { field: 'delete', path } });
  const why = {
    git: 'resolves into .git',
    parent: 'has a file where a parent directory should be',
    symlink: 'has a symlink among its parent directories',
    dir: 'is a directory',
  }[reason];
  return new AppError('INVALID_PATH', `path ${path} ${why}; nothing was changed`, { details: { field: deleting ? 'delete' : 'files', path } });
}

const nulList = (paths: string[]) => new TextEncoder().encode(paths.map((p) => `${p}\0`).join(''));

/** Writes and deletes many repo files in one step: every change is made, or none is. */
export async function writeFiles(ctx: ServiceContext, agentId: string, id: string, input: BatchWriteInput): Promise<FilesWritten> {
  const { writes, deletes } = planBatch(input, ctx.cfg.MAX_BODY_BYTES);
  return withOperation(ctx, agentId, id, 'files_write', async ({ lease, sbx }) => {
    const stage = `${lease.workdir}/.git/gs-write-${crypto.randomUUID()}`;
    const buf = (b: Uint8Array) => b.slice().buffer;
    try {
      await sbx.files.write([
        { path: `${stage}/writes`, data: buf(nulList(writes.map((w) => w.path))) },
        { path: `${stage}/deletes`, data: buf(nulList(deletes)) },
        ...writes.map((w, i) => ({ path: `${stage}/${i}`, data: buf(w.bytes) })),
      ]);
    } catch (e) {
      await run(sbx, 'rm -rf -- "$GS_STAGE"', { envs: { GS_STAGE: stage } }).catch(() => undefined);
      throw e;
    }
    const r = await runBounded(sbx, writeFilesScript(), { envs: { GS_WORKDIR: lease.workdir!, GS_STAGE: stage }, maxChars: 65_536, timeoutMs: 60_000 });
    const out = parseWriteFiles(r);
    if (out.kind === 'refused') {
      const deleting = out.index >= writes.length;
      throw refusal(out.reason, deleting ? deletes[out.index - writes.length] : writes[out.index].path, deleting);
    }
    if (out.kind !== 'ok') throw failed(ctx, 'files_write', out);
    return { written: writes.map((w) => ({ path: w.path, bytes: w.bytes.length })), deleted: deletes };
  });
}
