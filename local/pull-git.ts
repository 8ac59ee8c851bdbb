// Git work of the local pull request stand-in on a bare repo: branch tips, mergeability, and the
// three merges GitHub offers (merge commit, squash, rebase), each made in a throwaway worktree and
// moved onto the base with a compare-and-swap `update-ref`, as GitHub's own merge button does.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** GitHub's merge methods. */
export type MergeMethod = 'merge' | 'squash' | 'rebase';

/** The identity GitHub commits merges with. */
const GITHUB_IDENTITY = { GIT_COMMITTER_NAME: 'GitHub', GIT_COMMITTER_EMAIL: 'noreply@github.com' };

/** Runs git with hooks and every outside config off; never rejects. */
function run(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-c', 'core.hooksPath=/dev/null', ...args],
      { cwd, maxBuffer: 16 * 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', ...env } as NodeJS.ProcessEnv },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: stdout.trim(), stderr: stderr.trim() }),
    );
  });
}

/** The commit branch `name` of bare repo `dir` is at, or null when it does not exist. */
export async function branchTip(dir: string, name: string): Promise<string | null> {
  const r = await run(['--git-dir', dir, 'rev-parse', '-q', '--verify', `refs/heads/${name}^{commit}`]);
  return r.code === 0 ? r.stdout : null;
}

/** How many commits `head` has that `base` lacks. */
export async function commitsAhead(dir: string, base: string, head: string): Promise<number> {
  const r = await run(['--git-dir', dir, 'rev-list', '--count', `${base}..${head}`]);
  return r.code === 0 ? Number(r.stdout) : 0;
}

/** Whether commit `a` is an ancestor of (or equal to) commit `b`. */
export async function isAncestor(dir: string, a: string, b: string): Promise<boolean> {
  return (await run(['--git-dir', dir, 'merge-base', '--is-ancestor', a, b])).code === 0;
}

/** Whether `head` merges into `base` without conflicts (null when git cannot tell, e.g. git < 2.38). */
export async function mergeable(dir: string, base: string, head: string): Promise<boolean | null> {
  const r = await run(['--git-dir', dir, 'merge-tree', '--write-tree', '--no-messages', base, head]);
  return r.code === 0 ? true : r.code === 1 ? false : null;
}

/** A bare repo's config value, or null. */
export async function configValue(dir: string, key: string): Promise<string | null> {
  const r = await run(['--git-dir', dir, 'config', '--get', key]);
  return r.code === 0 ? r.stdout : null;
}

/** What a merge of a pull request needs to know. */
export interface MergeRequest {
  dir: string;
  base: string;
  baseSha: string;
  headSha: string;
  method: MergeMethod;
  /** The merge commit's message (merge) or the squashed commit's (squash). */
  message: string;
}

/** Result of mergePullRequest. */
export type MergeOutcome = { kind: 'merged'; sha: string } | { kind: 'conflict' } | { kind: 'moved' };

/** Merges `headSha` into branch `base` (expected at `baseSha`) by `method`. */
export async function mergePullRequest(m: MergeRequest): Promise<MergeOutcome> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'gs-pr-merge-'));
  const wt = path.join(tmp, 'wt');
  try {
    if ((await run(['--git-dir', m.dir, 'worktree', 'add', '--quiet', '--detach', wt, m.baseSha])).code !== 0) throw new Error('worktree add failed');
    const g = (args: string[], env: Record<string, string> = {}) => run(args, { ...GITHUB_IDENTITY, GIT_AUTHOR_NAME: 'GitHub', GIT_AUTHOR_EMAIL: 'noreply@github.com', ...env }, wt);
    let ok: boolean;
    if (m.method === 'merge') ok = (await g(['merge', '--quiet', '--no-ff', '-m', m.message, m.headSha])).code === 0;
    else if (m.method === 'squash') {
      // The squashed commit is authored by the pull request's first commit's author.
      const first = (await g(['rev-list', '--reverse', `${m.baseSha}..${m.headSha}`])).stdout.split('\n')[0] || m.headSha;
      const [name, email] = (await g(['log', '-1', '--format=%an%n%ae', first])).stdout.split('\n');
      ok = (await g(['merge', '--quiet', '--squash', m.headSha])).code === 0 && (await g(['commit', '--quiet', '-m', m.message], { GIT_AUTHOR_NAME: name || 'GitHub', GIT_AUTHOR_EMAIL: email || 'noreply@github.com' })).code === 0;
    } else {
      // Rebase and merge: the pull request's commits replayed onto the base, authors kept, GitHub as committer.
      ok = (await g(['checkout', '--quiet', '--detach', m.headSha])).code === 0 && (await g(['rebase', '--quiet', '--force-rebase', m.baseSha])).code === 0;
    }
    if (!ok) return { kind: 'conflict' };
    const sha = (await g(['rev-parse', 'HEAD'])).stdout;
    const moved = await run(['--git-dir', m.dir, 'update-ref', `refs/heads/${m.base}`, sha, m.baseSha]);
    return moved.code === 0 ? { kind: 'merged', sha } : { kind: 'moved' };
  } finally {
    await run(['--git-dir', m.dir, 'worktree', 'remove', '--force', wt]);
    await run(['--git-dir', m.dir, 'worktree', 'prune']);
    await rm(tmp, { recursive: true, force: true });
  }
}
