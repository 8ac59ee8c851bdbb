// Seeds bare git repositories for the local git server: one initial commit built with plumbing
// (hash-object / update-index / write-tree / commit-tree), so no working tree or global config is used.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The default content of a seeded repo: a tiny JavaScript project. */
export const DEMO_FILES: Record<string, string> = {
  'README.md': '# demo\n\nA small repository served by the local git server.\n',
  'package.json': '{\n  "name": "demo",\n  "version": "1.0.0",\n  "type": "module",\n  "main": "src/app.js"\n}\n',
  'src/app.js': "import { greet } from './util.js';\n\nconsole.log(greet('world'));\n",
  'src/util.js': 'export function greet(name) {\n  return `hello, ${name}`;\n}\n',
};

/** Committer identity for seeded commits, passed by env so no git config is touched. */
export const SEED_IDENTITY = {
  GIT_AUTHOR_NAME: 'git-sandbox seed',
  GIT_AUTHOR_EMAIL: 'seed@git-sandbox.local',
  GIT_COMMITTER_NAME: 'git-sandbox seed',
  GIT_COMMITTER_EMAIL: 'seed@git-sandbox.local',
};

/** Runs git and resolves with trimmed stdout; rejects with stderr on failure. */
export function git(args: string[], opts: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('git', args, {
      cwd: opts.cwd,
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', ...opts.env },
      maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args[0]} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout.trim());
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Path of repo `name` (e.g. `demo` or `owner/app`) under `root`, always ending in `.git`. */
export function repoPath(root: string, name: string): string {
  const rel = name.endsWith('.git') ? name : `${name}.git`;
  if (rel.split('/').some((p) => p === '..' || p === '' || p === '.')) throw new Error(`invalid repo name: ${name}`);
  return path.join(root, rel);
}

/** Creates bare repo `<root>/<name>.git` with one commit on `branch` holding `files`; returns its path. */
export async function createBareRepo(
  root: string,
  name: string,
  files: Record<string, string> = DEMO_FILES,
  branch = 'main',
): Promise<string> {
  const dir = repoPath(root, name);
  if (existsSync(dir)) throw new Error(`repository already exists: ${dir}`);
  await mkdir(path.dirname(dir), { recursive: true });
  await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, dir]);
  await git(['--git-dir', dir, 'config', 'http.receivepack', 'true']);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'gs-seed-'));
  try {
    const env = { ...SEED_IDENTITY, GIT_DIR: dir, GIT_INDEX_FILE: path.join(tmp, 'index') };
    const names = Object.keys(files).sort();
    const shas = await Promise.all(names.map((f) => git(['hash-object', '-w', '--stdin'], { env, input: files[f] })));
    const indexInfo = names.map((f, i) => `100644 ${shas[i]}\t${f}\n`).join('');
    await git(['update-index', '--index-info'], { env, input: indexInfo });
    const tree = await git(['write-tree'], { env });
    const commit = await git(['commit-tree', tree, '-m', 'Initial commit'], { env });
    await git(['update-ref', `refs/heads/${branch}`, commit], { env });
    await git(['symbolic-ref', 'HEAD', `refs/heads/${branch}`], { env });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}
