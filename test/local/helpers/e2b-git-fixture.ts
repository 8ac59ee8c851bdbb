// A token-protected git remote for the e2b-host conformance tests: the project's smart-HTTP server
// (local/git-server.ts) on a temp root, plus a seeded repo made with plain git (author "Seed").
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startGitServer } from '../../../local/git-server.ts';

const run = promisify(execFile);

/** A running fixture. `url` has no trailing slash; repos live at `${url}/<name>.git`. */
export interface GitFixture {
  url: string;
  root: string;
  /** Creates a bare repo `<name>.git` with one commit on `main` (README.md). */
  createRepo(name: string): Promise<string>;
  /** Runs git against a bare repo on the host (e.g. `log --format=%s main`). */
  git(repo: string, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the fixture on a random loopback port. */
export async function startGitFixture(token: string): Promise<GitFixture> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'e2b-git-fixture-'));
  const server = await startGitServer({ root, token });
  const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root };
  const git = async (repo: string, ...args: string[]) =>
    (await run('git', ['--git-dir', path.join(root, `${repo}.git`), ...args], { env: gitEnv })).stdout;
  return {
    url: server.url,
    root,
    git,
    async createRepo(name) {
      const bare = path.join(root, `${name}.git`);
      const work = path.join(root, `${name}-seed`);
      await run('git', ['init', '--bare', '--initial-branch', 'main', bare], { env: gitEnv });
      await run('git', ['--git-dir', bare, 'config', 'http.receivepack', 'true'], { env: gitEnv });
      await run('git', ['init', '--initial-branch', 'main', work], { env: gitEnv });
      await writeFile(path.join(work, 'README.md'), `# ${name}\n`);
      const w = (...a: string[]) => run('git', ['-C', work, '-c', 'user.name=Seed', '-c', 'user.email=seed@example.com', ...a], { env: gitEnv });
      await w('add', '-A');
      await w('commit', '-m', 'initial commit');
      await w('push', bare, 'main');
      await rm(work, { recursive: true, force: true });
      return bare;
    },
    async stop() {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
