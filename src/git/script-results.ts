// Typed results of the git scripts in src/git/scripts/: the exit-code table they share and one
// parser per script, turning its exit code and output markers (`__GS_…`) into a value.
import { QUEUE_PREFIX } from '../gateway/ref-rules.ts';
import { CHAIN_MARK } from './assemble.ts';

/** Exit codes of every script; src/git/scripts/lib.sh defines the same table (a unit test keeps them equal). */
export const EXIT = { OK: 0, FAILED: 1, CONFLICT: 3, REJECTED: 4, NOTHING: 5, CLONE: 6, NO_REPO: 7, NO_BRANCH: 8, FENCED: 9 } as const;

/** What a script run returns. */
export interface ScriptRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Splits a run of chainScripts into the first script's run and the second's (null when the first
 * failed and the second never ran). A run with no chain mark (the command died early) is the first's.
 */
export function splitChain(r: ScriptRun): [ScriptRun, ScriptRun | null] {
  const cut = (text: string): [string, string, number | null] => {
    const m = new RegExp(`\\n${CHAIN_MARK}=(\\d+)\\n`).exec(text);
    return m ? [text.slice(0, m.index), text.slice(m.index + m[0].length), Number(m[1])] : [text, '', null];
  };
  const [out1, out2, rc] = cut(r.stdout);
  const [err1, err2] = cut(r.stderr);
  if (rc === null) return [r, null];
  const first = { exitCode: rc, stdout: out1, stderr: err1 };
  return rc === 0 ? [first, { exitCode: r.exitCode, stdout: out2, stderr: err2 }] : [first, null];
}

/** A run that ended in none of its script's expected outcomes. */
export interface ScriptFailure {
  kind: 'failed';
  exitCode: number;
  /** The step the script named with `__GS_FAILED=<step>`, if it did. */
  step: string | null;
  stderr: string;
}

/** Reads `__GS_KEY=value` marker lines that the scripts print. */
export function markers(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  for (const l of out.split('\n')) {
    const r = /^__GS_([A-Z_]+)=(.*)$/.exec(l);
    if (r) m[r[1]] = r[2];
  }
  return m;
}

/** Extracts the conflicted paths printed between the CONFLICTS markers. */
export function conflictPaths(stdout: string): string[] {
  const m = /__GS_CONFLICTS_BEGIN\n([\s\S]*?)__GS_CONFLICTS_END/.exec(stdout);
  return m ? [...new Set(m[1].split('\n').map((s) => s.trim()).filter(Boolean))] : [];
}

function failure(r: ScriptRun): ScriptFailure {
  return { kind: 'failed', exitCode: r.exitCode, step: markers(r.stderr).FAILED ?? null, stderr: r.stderr };
}

/** Result of setup.sh. */
export type SetupResult = { kind: 'ok'; home: string } | ScriptFailure;

/** Parses setup.sh. */
export function parseSetup(r: ScriptRun): SetupResult {
  const home = markers(r.stdout).HOME;
  return r.exitCode === EXIT.OK && home ? { kind: 'ok', home } : failure(r);
}

/** Result of prepare.sh: `base` is the commit the branch starts at, `fetched` false when a fresh clone skipped the fetch. */
export type PrepareResult =
  | { kind: 'ready'; home: string; workdir: string; base: string; fetched: boolean }
  | { kind: 'no_branch' }
  | { kind: 'clone_failed'; stderr: string }
  | ScriptFailure;

/** Parses prepare.sh. */
export function parsePrepare(r: ScriptRun): PrepareResult {
  const m = markers(r.stdout);
  if (r.exitCode === EXIT.OK && m.HOME && m.WORKDIR && m.BASE) return { kind: 'ready', home: m.HOME, workdir: m.WORKDIR, base: m.BASE, fetched: m.FETCHED !== '0' };
  if (r.exitCode === EXIT.NO_BRANCH) return { kind: 'no_branch' };
  if (r.exitCode === EXIT.CLONE) return { kind: 'clone_failed', stderr: r.stderr };
  return failure(r);
}

/** Result of preclone.sh. */
export type PrecloneResult = { kind: 'ok' } | ScriptFailure;

/** Parses preclone.sh. */
export function parsePreclone(r: ScriptRun): PrecloneResult {
  return r.exitCode === EXIT.OK && markers(r.stdout).OK === '1' ? { kind: 'ok' } : failure(r);
}

/** Result of commit.sh. */
export type CommitResult = { kind: 'ok'; committed: boolean; head: string } | ScriptFailure;

/** Parses commit.sh. */
export function parseCommit(r: ScriptRun): CommitResult {
  const m = markers(r.stdout);
  return r.exitCode === EXIT.OK && m.HEAD ? { kind: 'ok', committed: m.COMMITTED === '1', head: m.HEAD } : failure(r);
}

/** Result of land.sh. */
export type LandResult =
  | { kind: 'landed'; commit: string; rebased: boolean }
  | { kind: 'nothing' }
  | { kind: 'conflict'; paths: string[] }
  | { kind: 'rejected'; rebased: boolean }
  | { kind: 'fenced' }
  | ScriptFailure;

/** Parses land.sh. */
export function parseLand(r: ScriptRun): LandResult {
  const m = markers(r.stdout);
  const rebased = m.REBASED === '1';
  if (r.exitCode === EXIT.OK && m.COMMIT) return { kind: 'landed', commit: m.COMMIT, rebased };
  if (r.exitCode === EXIT.NOTHING) return { kind: 'nothing' };
  if (r.exitCode === EXIT.CONFLICT) return { kind: 'conflict', paths: conflictPaths(r.stdout) };
  if (r.exitCode === EXIT.REJECTED) return { kind: 'rejected', rebased };
  if (r.exitCode === EXIT.FENCED) return { kind: 'fenced' };
  return failure(r);
}

/** Result of pull.sh. */
export type PullScriptResult = { kind: 'ok'; before: string; head: string } | { kind: 'conflict'; paths: string[] } | ScriptFailure;

/** Parses pull.sh. */
export function parsePull(r: ScriptRun): PullScriptResult {
  const m = markers(r.stdout);
  if (r.exitCode === EXIT.OK && m.BEFORE && m.HEAD) return { kind: 'ok', before: m.BEFORE, head: m.HEAD };
  if (r.exitCode === EXIT.CONFLICT) return { kind: 'conflict', paths: conflictPaths(r.stdout) };
  return failure(r);
}

/** Result of queue.sh. */
export type QueueResult = { kind: 'queued'; head: string } | { kind: 'nothing' } | ScriptFailure;

/** Parses queue.sh. */
export function parseQueue(r: ScriptRun): QueueResult {
  const head = markers(r.stdout).HEAD;
  if (r.exitCode === EXIT.OK && head) return { kind: 'queued', head };
  if (r.exitCode === EXIT.NOTHING) return { kind: 'nothing' };
  return failure(r);
}

/** One entry's outcome in a landing. */
export interface BatchOutcome {
  status: 'landed' | 'conflict' | 'missing' | 'failed';
  commit?: string;
  conflicts: string[];
}

/** Result of land-batch.sh. */
export type LandBatchResult = { kind: 'ok'; outcomes: Map<string, BatchOutcome>; tip: string | null; bundle: string | null } | { kind: 'rejected' } | { kind: 'fenced' } | ScriptFailure;

/** Parses land-batch.sh: its per-entry `__GS_ENTRY` and `__GS_PATH` lines, the new tip and the bundle of the landed objects (base64). */
export function parseLandBatch(r: ScriptRun): LandBatchResult {
  if (r.exitCode === EXIT.REJECTED) return { kind: 'rejected' };
  if (r.exitCode === EXIT.FENCED) return { kind: 'fenced' };
  if (r.exitCode !== EXIT.OK) return failure(r);
  const outcomes = new Map<string, BatchOutcome>();
  const paths = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const p = /^__GS_PATH (\S+) (.+)$/.exec(line);
    if (p) paths.set(p[1], [...(paths.get(p[1]) ?? []), p[2]]);
    const e = /^__GS_ENTRY (\S+) (landed|conflict|missing|failed)(?: ([0-9a-f]{40}))?$/.exec(line);
    if (e) outcomes.set(e[1], { status: e[2] as BatchOutcome['status'], commit: e[3], conflicts: [] });
  }
  for (const [id, o] of outcomes) o.conflicts = [...new Set(paths.get(id) ?? [])];
  const m = markers(r.stdout);
  const bundle = m.BUNDLE && /^[A-Za-z0-9+/]+={0,2}$/.test(m.BUNDLE) ? m.BUNDLE : null;
  return { kind: 'ok', outcomes, tip: m.TIP ?? null, bundle };
}

/** Result of the scripts whose only outcome is success or failure. */
export type DoneResult = { kind: 'ok' } | ScriptFailure;

function done(r: ScriptRun): DoneResult {
  return r.exitCode === EXIT.OK ? { kind: 'ok' } : failure(r);
}

/** Parses sync-landed.sh. */
export const parseSyncLanded = done;

/** Parses fetch-base.sh. */
export const parseFetchBase = done;

/** Parses drop-queue-ref.sh. */
export const parseDropQueueRef = done;

/** Parses sweep-queue-refs.sh. */
export const parseSweepQueueRefs = done;

/** Result of list-queue-refs.sh: the entry ids whose queue refs are on the remote. */
export type ListQueueRefsResult = { kind: 'ok'; entryIds: string[] } | ScriptFailure;

/** Parses list-queue-refs.sh (git ls-remote lines `<oid>\t<ref>`); names that are not entry ids are skipped. */
export function parseListQueueRefs(r: ScriptRun): ListQueueRefsResult {
  if (r.exitCode !== EXIT.OK) return failure(r);
  const entryIds = r.stdout
    .split('\n')
    .map((l) => l.split('\t')[1]?.slice(QUEUE_PREFIX.length + 1))
    .filter((x): x is string => !!x && /^[A-Za-z0-9_-]+$/.test(x));
  return { kind: 'ok', entryIds };
}

/** Result of refresh.sh. */
export type RefreshResult = { kind: 'ok'; base: string } | ScriptFailure;

/** Parses refresh.sh. */
export function parseRefresh(r: ScriptRun): RefreshResult {
  const base = markers(r.stdout).BASE;
  return r.exitCode === EXIT.OK && base ? { kind: 'ok', base } : failure(r);
}

/** Result of scrub.sh. */
export interface ScrubResult {
  clean: boolean;
  scope: 'machine' | 'sandbox' | null;
  /** The commit the kept clone is at; null when the member has no clone. */
  base: string | null;
  /** What the verification found, when not clean. */
  stray: string | null;
}

/** Parses scrub.sh. */
export function parseScrub(r: ScriptRun): ScrubResult {
  const out = markers(r.stdout);
  const scope = out.SCOPE === 'machine' || out.SCOPE === 'sandbox' ? out.SCOPE : null;
  return { clean: r.exitCode === EXIT.OK && out.CLEAN === '1', scope, base: out.BASE ?? null, stray: markers(r.stderr).STRAY ?? null };
}
