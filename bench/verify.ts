// Checks the remotes with git, straight against the bare repos in the stack's git_root: which of the
// expected commits landed on main, whether any landed twice, whether a reported commit is missing.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TaskRecord } from './agents.ts';

/** What the remotes hold for one scenario. */
export interface Landed {
  commits_expected: number;
  /** Expected commit messages found on main (each counted once). */
  commits_found: number;
  /** Expected messages found more than once on main (a task landed twice). */
  duplicates: number;
  /** Expected files missing from main's tree although their commit message is there. */
  files_missing: number;
  /** Commits the service reported as pushed that are not reachable from main (lost). */
  lost: number;
}

function git(gitDir: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', ['--git-dir', gitDir, ...args], { maxBuffer: 64 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args[0]} in ${gitDir} failed: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

/** Counts the expected tasks' commits on each repo's main branch. */
export async function verifyLanded(gitRoot: string, repoNames: string[], expected: { repo: string; message: string; file: string }[], records: TaskRecord[]): Promise<Landed> {
  const res: Landed = { commits_expected: expected.length, commits_found: 0, duplicates: 0, files_missing: 0, lost: 0 };
  for (const name of repoNames) {
    const dir = path.join(gitRoot, `${name}.git`);
    if (!existsSync(dir)) continue;
    const subjects = new Map<string, number>();
    for (const s of (await git(dir, 'log', '--format=%s', 'main')).split('\n')) if (s) subjects.set(s, (subjects.get(s) ?? 0) + 1);
    const files = new Set((await git(dir, 'ls-tree', '-r', '--name-only', 'main')).split('\n'));
    const reachable = new Set((await git(dir, 'rev-list', 'main')).split('\n').filter(Boolean));
    for (const e of expected.filter((x) => x.repo === name)) {
      const n = subjects.get(e.message) ?? 0;
      if (n > 0) res.commits_found++;
      if (n > 1) res.duplicates++;
      if (n > 0 && !files.has(e.file)) res.files_missing++;
    }
    for (const r of records) if (r.repo === name && r.ok && r.commit && !reachable.has(r.commit)) res.lost++;
  }
  return res;
}
