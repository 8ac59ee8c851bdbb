// Read-only views of a lease's repository: the log of a range, one commit in full, a listing of the
// working tree and a text search. Each runs as a script in the sandbox with the hardened git env,
// cut there at MAX_OUTPUT_BYTES; the answer's lists are then kept within that many bytes of JSON.
import type { CommitDetail, FileList, Log, SearchResults } from '../contract-read.ts';
import { AppError } from '../errors.ts';
import { serviceGitEnv } from '../git/env.ts';
import { parseListFiles, parseLog, parseSearch, parseShow } from '../git/read-results.ts';
import { listFilesScript, logScript, searchScript, showScript } from '../git/read-scripts.ts';
import { assertRange, assertRevision, globSpec, literalSpec } from '../git/revision.ts';
import { assertRepoPath } from '../git/validate.ts';
import { fitJson } from '../lib/json-budget.ts';
import { runBounded, type BoundedRunResult } from '../sandbox/bounded-run.ts';
import type { Sandbox } from '../sandbox/provider.ts';
import type { ServiceContext } from './context.ts';
import { failed, withOperation } from './git-ops.ts';

/** Characters of stdout + stderr allowed past a script's own caps (markers, git's messages). */
const SLACK = 65_536;

/** Bytes of one search match's record (path, line number and text) kept in the sandbox. */
const LINE_CAP = 1024;

/** Runs a read script in the lease's clone with its output bounded at `cap` plus slack. */
function runRead(sbx: Sandbox, workdir: string, script: string, envs: Record<string, string>, cap: number): Promise<BoundedRunResult> {
  return runBounded(sbx, script, { cwd: workdir, envs: { ...serviceGitEnv(), GS_WORKDIR: workdir, ...envs }, maxChars: cap + SLACK, timeoutMs: 60_000 });
}

/** Options of a log. */
export interface LogOptions {
  range?: string;
  path?: string;
  limit: number;
}

/** The commits of a revision or range (default HEAD), newest first, optionally only those touching `path`. */
export async function gitLog(ctx: ServiceContext, agentId: string, id: string, o: LogOptions): Promise<Log> {
  const range = o.range ? assertRange(o.range) : 'HEAD';
  const spec = o.path ? literalSpec(assertRepoPath(o.path)) : '';
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  return withOperation(ctx, agentId, id, 'log', async ({ lease, sbx }) => {
    const envs = { GS_RANGE: range, GS_SPEC: spec, GS_LIMIT: String(o.limit), GS_CAP: String(cap) };
    const out = parseLog(await runRead(sbx, lease.workdir!, logScript(), envs, cap), cap);
    if (out.kind === 'bad_rev') throw new AppError('INVALID_REF', `range "${range}" names no commit in the repository`, { details: { field: 'range' } });
    if (out.kind !== 'ok') throw failed(ctx, 'git log', out);
    const fit = fitJson(out.commits, cap);
    return { commits: fit.items, truncated: out.truncated || fit.cut };
  });
}

/** Options of a show. */
export interface ShowOptions {
  rev: string;
  maxBytes: number;
}

/**
 * One commit in full: metadata, message and its change against its first parent. The answer stays
 * within MAX_OUTPUT_BYTES: the metadata within a quarter (at most 64 KiB), the file list within a
 * quarter, the patch within max_bytes and half.
 */
export async function gitShow(ctx: ServiceContext, agentId: string, id: string, o: ShowOptions): Promise<CommitDetail> {
  const rev = assertRevision(o.rev);
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  const caps = { meta: Math.min(65_536, Math.floor(cap / 4)), stat: Math.floor(cap / 4), diff: Math.min(o.maxBytes, Math.floor(cap / 2)) };
  return withOperation(ctx, agentId, id, 'show', async ({ lease, sbx }) => {
    // A split line no commit content can forge: the tenant cannot guess it.
    const split = `\n__GS_SPLIT_${crypto.randomUUID()}__\n`;
    const envs = { GS_REV: rev, GS_SPLIT: split, GS_META_CAP: String(caps.meta), GS_STAT_CAP: String(caps.stat), GS_DIFF_CAP: String(caps.diff) };
    const out = parseShow(await runRead(sbx, lease.workdir!, showScript(), envs, caps.meta + caps.stat + caps.diff), split, caps);
    if (out.kind === 'bad_rev') throw new AppError('INVALID_REF', `rev "${rev}" names no commit in the repository`, { details: { field: 'rev' } });
    if (out.kind !== 'ok') throw failed(ctx, 'git show', out);
    const { kind: _, ...detail } = out;
    const fit = fitJson(detail.files, caps.stat);
    return { ...detail, files: fit.items, truncated: detail.truncated || fit.cut };
  });
}

/** Options of a listing. */
export interface ListFilesOptions {
  path?: string;
  glob?: string;
  depth: number;
}

/** The working tree's entries under a directory down to `depth` levels, or every file matching `glob`. */
export async function listFiles(ctx: ServiceContext, agentId: string, id: string, o: ListFilesOptions): Promise<FileList> {
  const dir = o.path ? assertRepoPath(o.path) : '';
  const spec = o.glob ? globSpec(o.glob, dir || undefined) : '';
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  return withOperation(ctx, agentId, id, 'list_files', async ({ lease, sbx }) => {
    const envs = { GS_DIR: dir, GS_SPEC: spec, GS_DEPTH: String(o.depth), GS_CAP: String(cap) };
    const out = parseListFiles(await runRead(sbx, lease.workdir!, listFilesScript(), envs, cap), cap);
    if (out.kind === 'bad_dir') {
      if (out.reason === 'missing') throw new AppError('FILE_NOT_FOUND', `no directory ${dir} in the repository`);
      const why = out.reason === 'notdir' ? 'is not a directory' : 'is reached through a symlink';
      throw new AppError('INVALID_PATH', `path ${dir} ${why}`, { details: { field: 'path' } });
    }
    if (out.kind !== 'ok') throw failed(ctx, 'list files', out);
    const fit = fitJson(out.entries, cap);
    return { entries: fit.items, truncated: out.truncated || fit.cut };
  });
}

/** Options of a search. */
export interface SearchOptions {
  pattern: string;
  regex: boolean;
  ignoreCase: boolean;
  path?: string;
  glob?: string;
  maxResults: number;
}

/** Lines of the working tree's text files matching a fixed string or an ERE, with their line numbers. */
export async function searchFiles(ctx: ServiceContext, agentId: string, id: string, o: SearchOptions): Promise<SearchResults> {
  const dir = o.path ? assertRepoPath(o.path) : undefined;
  const spec = o.glob ? globSpec(o.glob, dir) : dir ? literalSpec(dir) : '';
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  return withOperation(ctx, agentId, id, 'search', async ({ lease, sbx }) => {
    const envs = {
      GS_PATTERN: o.pattern,
      GS_MODE: o.regex ? 'E' : 'F',
      GS_ICASE: o.ignoreCase ? '1' : '0',
      GS_SPEC: spec,
      GS_MAX: String(o.maxResults),
      GS_LINE_CAP: String(LINE_CAP),
      GS_CAP: String(cap),
    };
    const out = parseSearch(await runRead(sbx, lease.workdir!, searchScript(), envs, cap), o.maxResults, cap);
    if (out.kind === 'bad_pattern') throw new AppError('BAD_REQUEST', 'pattern: not a valid extended regular expression', { details: { field: 'pattern' } });
    if (out.kind !== 'ok') throw failed(ctx, 'git grep', out);
    const fit = fitJson(out.matches, cap);
    return { matches: fit.items, truncated: out.truncated || fit.cut };
  });
}
