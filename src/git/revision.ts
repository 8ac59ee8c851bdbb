// Validation of caller-given revisions, revision ranges and globs before they reach git: nothing
// git could read as an option, no control characters or whitespace, and pathspecs built with magic
// that keeps a path literal and a glob a glob.
import { AppError } from '../errors.ts';

const shown = (s: string) => s.slice(0, 100).replace(/[\x00-\x1f\x7f]/g, '?');

/** Throws INVALID_REF unless `raw` is one revision expression (a ref, a commit id, `HEAD~2`, `main^{tree}`…). */
export function assertRevision(raw: string, field = 'rev'): string {
  const bad = (why: string) => new AppError('INVALID_REF', `${field} "${shown(raw)}" is not a valid revision: ${why}`, { details: { field } });
  if (!raw || raw.length > 256) throw bad('length must be 1..256');
  if (raw.startsWith('-')) throw bad('must not start with "-"');
  // biome-ignore lint: control characters are exactly what is being rejected.
  if (/[\x00-\x20\x7f]/.test(raw)) throw bad('must not contain spaces or control characters');
  if (raw.includes('..')) throw bad('names a range; give one revision');
  return raw;
}

/** Throws INVALID_REF unless `raw` is a revision or a range `A..B` / `A...B` (either side may be empty, not both). */
export function assertRange(raw: string, field = 'range'): string {
  const m = /^(.*?)(\.\.\.?)(.*)$/.exec(raw);
  if (!m) return assertRevision(raw, field);
  const [, from, , to] = m;
  if (!from && !to) throw new AppError('INVALID_REF', `${field} "${shown(raw)}" names no revision`, { details: { field } });
  if (from) assertRevision(from, field);
  if (to) assertRevision(to, field);
  return raw;
}

/** True when `raw` is a range rather than a single revision. */
export function isRange(raw: string): boolean {
  return raw.includes('..');
}

/** A pathspec naming exactly the repo-relative `path` (already checked with assertRepoPath). */
export function literalSpec(path: string): string {
  return `:(literal)${path}`;
}

/**
 * A glob pathspec: `glob` (`*.ts`, or a path pattern with `**`) under the optional directory `dir`
 * (taken literally). A glob without a slash matches file names at any depth, as in .gitignore; `*`
 * never crosses a slash.
 */
export function globSpec(glob: string, dir?: string): string {
  const bad = (why: string) => new AppError('BAD_REQUEST', `glob "${shown(glob)}" is not allowed: ${why}`, { details: { field: 'glob' } });
  if (!glob || glob.length > 512) throw bad('length must be 1..512');
  // biome-ignore lint: control characters are exactly what is being rejected.
  if (/[\x00-\x1f\x7f\\]/.test(glob)) throw bad('must not contain control characters or backslashes');
  if (glob.startsWith('/') || glob.startsWith(':')) throw bad('must be relative to the repository root (no leading "/" or ":")');
  const parts = glob.split('/');
  if (parts.some((p) => p === '..' || p === '.git')) throw bad('must not contain ".." or ".git"');
  const pattern = glob.includes('/') ? glob : `**/${glob}`;
  return `:(glob)${dir ? `${dir.replace(/[*?[\]]/g, '\\$&')}/` : ''}${pattern}`;
}

/** Checks a diff's `ref`: a revision compared with the working tree (head) or the index, or a range of two commits (head only). */
export function assertDiffRef(ref: string, against: 'head' | 'index' | 'base'): string {
  if (against === 'base') throw new AppError('BAD_REQUEST', 'ref: give against=base or a ref, not both', { details: { field: 'ref' } });
  const r = assertRange(ref, 'ref');
  if (against === 'index' && isRange(r)) throw new AppError('BAD_REQUEST', 'ref: a range compares two commits; use it with against=head', { details: { field: 'ref' } });
  return r;
}
