// The plan of a batch write, checked before anything reaches the sandbox: every path repo-relative
// and out of .git, each entry's content decoded, no path twice, no path both a file and another's
// parent directory, the total within MAX_BODY_BYTES.
import type { FileWriteEntry } from '../contract-read.ts';
import { AppError, isAppError } from '../errors.ts';
import { assertRepoPath } from '../git/validate.ts';

/** A batch write: files to write and paths to delete. */
export interface BatchWriteInput {
  files: FileWriteEntry[];
  delete?: string[];
}

/** A file of the batch, checked and decoded. */
export interface PlannedWrite {
  path: string;
  bytes: Uint8Array;
}

/** A repo path of the batch, checked; a bad one names its field. */
function batchPath(raw: string, field: string): string {
  try {
    return assertRepoPath(raw);
  } catch (e) {
    if (isAppError(e)) throw new AppError(e.code, e.message, { details: { field } });
    throw e;
  }
}

/** Decodes one entry's content: exactly one of content (UTF-8) and content_base64. */
function entryBytes(f: FileWriteEntry, field: string): Uint8Array {
  if ((f.content === undefined) === (f.content_base64 === undefined)) {
    throw new AppError('BAD_REQUEST', `${field}: give exactly one of content and content_base64`, { details: { field } });
  }
  if (f.content !== undefined) return new TextEncoder().encode(f.content);
  try {
    return Uint8Array.from(atob(f.content_base64!), (ch) => ch.charCodeAt(0));
  } catch {
    throw new AppError('BAD_REQUEST', `${field}.content_base64: not valid base64`, { details: { field: `${field}.content_base64` } });
  }
}

/** Checks a batch before anything reaches the sandbox: paths, contents, duplicates, total size. */
export function planBatch(input: BatchWriteInput, maxBytes: number): { writes: PlannedWrite[]; deletes: string[] } {
  const writes = input.files.map((f, i) => ({ path: batchPath(f.path, `files.${i}.path`), bytes: entryBytes(f, `files.${i}`) }));
  const deletes = (input.delete ?? []).map((p, i) => batchPath(p, `delete.${i}`));
  if (!writes.length && !deletes.length) throw new AppError('BAD_REQUEST', 'files: nothing to write or delete', { details: { field: 'files' } });
  const all = [...writes.map((w) => w.path), ...deletes];
  const seen = new Set<string>();
  for (const p of all) {
    if (seen.has(p)) throw new AppError('BAD_REQUEST', `path ${p} appears more than once in the batch`, { details: { field: 'files', path: p } });
    seen.add(p);
  }
  // A path that is another's parent directory would have to be both a file and a directory.
  for (const p of all) {
    for (let at = p.indexOf('/'); at > 0; at = p.indexOf('/', at + 1)) {
      if (seen.has(p.slice(0, at))) throw new AppError('BAD_REQUEST', `path ${p.slice(0, at)} is both a file and a parent directory of ${p} in the batch`, { details: { field: 'files', path: p } });
    }
  }
  const total = writes.reduce((n, w) => n + w.bytes.length, 0);
  if (total > maxBytes) throw new AppError('PAYLOAD_TOO_LARGE', `the batch holds ${total} bytes (limit ${maxBytes}, MAX_BODY_BYTES)`);
  return { writes, deletes };
}
