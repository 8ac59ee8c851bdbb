// Runs the git scripts of src/git/scripts/ with bash and real git against repositories in a temp
// dir: a bare "remote" and clones of it, with git's global and system config ignored.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assembleScript } from '../../src/git/assemble.ts';
import type { ScriptRun } from '../../src/git/script-results.ts';

/** The folder of the scripts. */
export const SCRIPTS_DIR = path.resolve(import.meta.dirname, '../../src/git/scripts');

/** The text of one .sh file. */
export function scriptFile(name: string): string {
  return fs.readFileSync(path.join(SCRIPTS_DIR, `${name}.sh`), 'utf8');
}

/** Every script's name (lib.sh excluded). */
export function scriptNames(): string[] {
  return fs
    .readdirSync(SCRIPTS_DIR)
    .filter((f) => f.endsWith('.sh') && f !== 'lib.sh')
    .map((f) => f.slice(0, -3))
    .sort();
}

/** A script as it runs in a sandbox: lib.sh prepended. */
export function assembled(name: string): string {
  return assembleScript(scriptFile('lib'), scriptFile(name));
}

/** Env of every git command here: no global or system config, fixed identities, no prompts. */
export const GIT_ENV: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.invalid',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.invalid',
  LC_ALL: 'C',
};

// worker-configuration.d.ts declares the Worker's vars on NodeJS.ProcessEnv; a child's env holds only these.
const childEnv = (env: Record<string, string>) => env as NodeJS.ProcessEnv;

/** Runs a script with bash and `env` (over GIT_ENV). */
export function runScript(name: string, env: Record<string, string>, cwd = os.tmpdir()): ScriptRun {
  const r = spawnSync('bash', ['-c', assembled(name)], { cwd, env: childEnv({ ...GIT_ENV, ...env }), encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { exitCode: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs git in `dir`; returns trimmed stdout and throws on failure. */
export function git(dir: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd: dir, env: childEnv(GIT_ENV), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A temp world: a bare remote with `main` holding README and a.txt, and helpers around it. */
export class World {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'gs-scripts-'));
  readonly remote = path.join(this.root, 'remote.git');
  #n = 0;

  constructor() {
    git(this.root, 'init', '-q', '--bare', '-b', 'main', this.remote);
    const seed = this.clone('seed');
    fs.writeFileSync(path.join(seed, 'README'), 'hello\n');
    fs.writeFileSync(path.join(seed, 'a.txt'), '1\n2\n3\n');
    git(seed, 'add', '-A');
    git(seed, 'commit', '-q', '-m', 'seed');
    git(seed, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  }

  /** A fresh home directory. */
  home(): string {
    const h = path.join(this.root, `home-${++this.#n}`);
    fs.mkdirSync(h);
    return h;
  }

  /** A plain clone of the remote (a second writer), at `name` under the root. */
  clone(name: string): string {
    const dir = path.join(this.root, name);
    git(this.root, 'clone', '-q', this.remote, dir);
    return dir;
  }

  /** Commits `files` in `dir` and pushes HEAD to `branch` of the remote; returns the commit. */
  commitAndPush(dir: string, branch: string, files: Record<string, string>, message = 'change'): string {
    this.write(dir, files);
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', message);
    git(dir, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
    return git(dir, 'rev-parse', 'HEAD');
  }

  /** Writes files under `dir`. */
  write(dir: string, files: Record<string, string>): void {
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), text);
    }
  }

  /** The commit a branch (or any ref) of the remote is at, or '' when absent. */
  remoteRef(ref: string): string {
    const r = spawnSync('git', ['--git-dir', this.remote, 'rev-parse', '-q', '--verify', ref], { env: childEnv(GIT_ENV), encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : '';
  }

  /** A lease's clone, made by prepare.sh in a fresh home; returns its workdir. */
  lease(agentBranch = 'agent/a/t', branch = 'main'): string {
    const home = this.home();
    const r = runScript('prepare', { HOME: home, GS_URL: this.remote, GS_BRANCH: branch, GS_AGENT_BRANCH: agentBranch, GS_AGENT: 'a', GS_AUTH: 'Basic test' });
    if (r.exitCode !== 0) throw new Error(`prepare failed (${r.exitCode}): ${r.stderr}`);
    return path.join(home, 'repo');
  }

  /** Removes the world. */
  dispose(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
