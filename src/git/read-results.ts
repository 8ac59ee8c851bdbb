// Typed results of the read scripts (log.sh, show.sh, list-files.sh, search.sh) and of
// write-files.sh: each parser turns a run's exit code, markers and capped output into a value.
// A part of the output longer than its cap was cut in the sandbox; its cut last record is dropped.
import { markers, type ScriptFailure, type ScriptRun } from './script-results.ts';
import { parseNumstatZ, wholeRecords, type FileStat } from './status.ts';
import { byteLength, cutUtf8 } from '../sandbox/bounded-run.ts';

/** A script run whose output may have been cut by the Worker-side bound too. */
export interface CappedRun extends ScriptRun {
  overflow?: boolean;
}

/** A run that reported a revision that names no commit. */
export interface BadRevision {
  kind: 'bad_rev';
}

function failure(r: ScriptRun): ScriptFailure {
  return { kind: 'failed', exitCode: r.exitCode, step: markers(r.stderr).FAILED ?? null, stderr: r.stderr };
}

/** `out` cut to `cap` bytes when it is longer; `cut` says whether it was. */
function capped(out: string, cap: number, overflow = false): { text: string; cut: boolean } {
  const cut = overflow || byteLength(out) > cap;
  return { text: cut ? cutUtf8(out, cap) : out, cut };
}

/** One commit of a log. */
export interface LogCommit {
  sha: string;
  author_name: string;
  author_email: string;
  date: string;
  subject: string;
}

/** Result of log.sh. */
export type LogResult = { kind: 'ok'; commits: LogCommit[]; truncated: boolean } | BadRevision | ScriptFailure;

/** Parses log.sh: NUL-ended records of five 0x1f-separated fields (a subject keeps any extra separators). */
export function parseLog(r: CappedRun, cap: number): LogResult {
  if (!r.overflow && r.exitCode !== 0) return markers(r.stderr).FAILED === 'rev' ? { kind: 'bad_rev' } : failure(r);
  const { text, cut } = capped(r.stdout, cap, r.overflow);
  const commits: LogCommit[] = [];
  for (const rec of wholeRecords(text, cut).split('\0')) {
    const f = rec.replace(/^\n/, '').split('\x1f');
    if (f.length < 5 || !/^[0-9a-f]{40,64}$/.test(f[0])) continue;
    commits.push({ sha: f[0], author_name: f[1], author_email: f[2], date: f[3], subject: f.slice(4).join('\x1f') });
  }
  return { kind: 'ok', commits, truncated: cut };
}

/** A person and time on a commit. */
export interface Signature {
  name: string;
  email: string;
  date: string;
}

/** One commit in full: metadata, message, and its change against its first parent. */
export interface CommitDetail {
  sha: string;
  parents: string[];
  author: Signature;
  committer: Signature;
  message: string;
  files: FileStat[];
  diff: string;
  truncated: boolean;
}

/** Caps of show.sh's three parts, in bytes. */
export interface ShowCaps {
  meta: number;
  stat: number;
  diff: number;
}

/** Result of show.sh. */
export type ShowResult = ({ kind: 'ok' } & CommitDetail) | BadRevision | ScriptFailure;

/** Parses show.sh: metadata, numstat and patch separated by `split`, each cut at its cap. */
export function parseShow(r: CappedRun, split: string, caps: ShowCaps): ShowResult {
  if (!r.overflow && r.exitCode !== 0) return markers(r.stderr).FAILED === 'rev' ? { kind: 'bad_rev' } : failure(r);
  const [rawMeta = '', rawStat = '', rawDiff = ''] = r.stdout.split(split);
  const meta = capped(rawMeta, caps.meta);
  const stat = capped(rawStat, caps.stat);
  const diff = capped(rawDiff, caps.diff);
  const f = meta.text.split('\0');
  if (f.length < 9 || !/^[0-9a-f]{40,64}$/.test(f[0])) return failure({ ...r, stderr: `${r.stderr}\nshow: unreadable commit metadata` });
  // --format ends with a newline of its own after the message.
  const message = f.slice(8).join('\0').replace(/\n+$/, '');
  return {
    kind: 'ok',
    sha: f[0],
    parents: f[1] ? f[1].split(' ') : [],
    author: { name: f[2], email: f[3], date: f[4] },
    committer: { name: f[5], email: f[6], date: f[7] },
    message,
    files: parseNumstatZ(wholeRecords(stat.text, stat.cut)),
    diff: diff.text,
    truncated: !!r.overflow || meta.cut || stat.cut || diff.cut,
  };
}

/** One entry of a file listing. */
export interface FileEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Bytes of a file (of a symlink: its target's name); null for a directory. */
  size: number | null;
}

/** The type of a raw stat mode, or null for anything else (fifo, socket, device). */
function modeType(hex: string): FileEntry['type'] | null {
  const fmt = Number.parseInt(hex, 16) & 0o170000;
  if (fmt === 0o100000) return 'file';
  if (fmt === 0o040000) return 'dir';
  if (fmt === 0o120000) return 'symlink';
  return null;
}

/** Result of list-files.sh. */
export type ListFilesResult =
  | { kind: 'ok'; entries: FileEntry[]; truncated: boolean }
  | { kind: 'bad_dir'; reason: 'missing' | 'notdir' | 'symlink' }
  | ScriptFailure;

/** Parses list-files.sh: NUL-ended `<mode>\t<size>\t<path>` records, sorted by path. */
export function parseListFiles(r: CappedRun, cap: number): ListFilesResult {
  const bad = markers(r.stdout).BAD;
  if (bad === 'missing' || bad === 'notdir' || bad === 'symlink') return { kind: 'bad_dir', reason: bad };
  if (!r.overflow && r.exitCode !== 0) return failure(r);
  const { text, cut } = capped(r.stdout, cap, r.overflow);
  const entries: FileEntry[] = [];
  for (const rec of wholeRecords(text, cut).split('\0')) {
    const m = /^(d|[0-9a-f]{1,8})\t(\d+)\t(.+)$/s.exec(rec);
    if (!m) continue;
    const type = m[1] === 'd' ? 'dir' : modeType(m[1]);
    if (!type) continue;
    entries.push({ path: m[3], type, size: type === 'dir' ? null : Number(m[2]) });
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { kind: 'ok', entries, truncated: cut };
}

/** One matching line. */
export interface SearchMatch {
  path: string;
  line: number;
  text: string;
}

/** Result of search.sh. */
export type SearchResult = { kind: 'ok'; matches: SearchMatch[]; truncated: boolean } | { kind: 'bad_pattern' } | ScriptFailure;

/** Parses search.sh: `<path>\0<line>\0<text>\n` records; more than `max` of them, or a cut output, is `truncated`. */
export function parseSearch(r: CappedRun, max: number, cap: number): SearchResult {
  if (!r.overflow && r.exitCode !== 0) return markers(r.stderr).FAILED === 'pattern' ? { kind: 'bad_pattern' } : failure(r);
  const { text, cut } = capped(r.stdout, cap, r.overflow);
  const matches: SearchMatch[] = [];
  // A path holding a newline (or cut before its line number) does not match and is skipped.
  for (const m of text.matchAll(/([^\0\n]+)\0(\d+)\0([^\n]*)\n/g)) {
    matches.push({ path: m[1], line: Number(m[2]), text: m[3].replace(/\uFFFD$/, '') });
  }
  const more = matches.length > max;
  return { kind: 'ok', matches: matches.slice(0, max), truncated: cut || more };
}

/** Why write-files.sh refused a path. */
export type WriteRefusal = 'git' | 'parent' | 'symlink' | 'dir' | 'missing';

/** Result of write-files.sh: `index` counts the writes first, then the deletes. */
export type WriteFilesResult = { kind: 'ok' } | { kind: 'refused'; reason: WriteRefusal; index: number } | ScriptFailure;

/** Parses write-files.sh. */
export function parseWriteFiles(r: ScriptRun): WriteFilesResult {
  const m = markers(r.stdout);
  if (r.exitCode === 0 && m.APPLIED) return { kind: 'ok' };
  const refused = /^(git|parent|symlink|dir|missing) (\d+)$/.exec(m.REFUSED ?? '');
  if (refused) return { kind: 'refused', reason: refused[1] as WriteRefusal, index: Number(refused[2]) };
  return failure(r);
}
