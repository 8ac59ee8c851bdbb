import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  EXIT,
  parseCommit,
  parseDropQueueRef,
  parseFetchBase,
  parseLand,
  parseLandBatch,
  parseListQueueRefs,
  parsePreclone,
  parsePrepare,
  parsePull,
  parseQueue,
  parseRefresh,
  parseScrub,
  parseSetup,
  parseSweepQueueRefs,
  parseSyncLanded,
} from '../../src/git/script-results.ts';
import { QUEUE_PREFIX } from '../../src/gateway/ref-rules.ts';
import { serviceGitEnv } from '../../src/git/env.ts';
import { World, git, runScript } from './script-harness.ts';

// Each test runs several git processes; a busy machine needs more than the default 5 s.
vi.setConfig({ testTimeout: 60_000 });

let w: World;
beforeEach(() => {
  w = new World();
});
afterEach(() => w.dispose());

const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');

describe('setup.sh', () => {
  it('reports the home directory', () => {
    const home = w.home();
    expect(parseSetup(runScript('setup', { HOME: home }))).toEqual({ kind: 'ok', home });
  });
});

describe('prepare.sh', () => {
  const env = (home: string, over: Record<string, string> = {}) => ({ HOME: home, GS_URL: w.remote, GS_BRANCH: 'main', GS_AGENT_BRANCH: 'agent/a/t', GS_AGENT: 'a', GS_AUTH: 'Basic abc', ...over });

  it('clones the repo and checks out the agent branch from origin/<base> with the lease config', () => {
    const home = w.home();
    const r = parsePrepare(runScript('prepare', env(home)));
    expect(r).toEqual({ kind: 'ready', home, workdir: path.join(home, 'repo'), base: w.remoteRef('main'), fetched: true });
    const repo = path.join(home, 'repo');
    expect(git(repo, 'symbolic-ref', '--short', 'HEAD')).toBe('agent/a/t');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(w.remoteRef('main'));
    expect(git(repo, 'config', 'user.name')).toBe('a');
    expect(git(repo, 'config', 'git-sandbox.base')).toBe('main');
    expect(git(repo, 'config', 'http.extraHeader')).toBe('Authorization: Basic abc');
  });

  it('reuses a clone of the same repo: fetches the new tip and drops local changes', () => {
    const home = w.home();
    runScript('prepare', env(home));
    const repo = path.join(home, 'repo');
    w.write(repo, { 'a.txt': 'dirty\n', 'junk.txt': 'x' });
    const tip = w.commitAndPush(w.clone('other'), 'main', { 'b.txt': 'b\n' });
    expect(parsePrepare(runScript('prepare', env(home, { GS_AGENT_BRANCH: 'agent/a/u' })))).toMatchObject({ kind: 'ready' });
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(tip);
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  it('exits NO_BRANCH when the base branch is not on the remote', () => {
    const r = runScript('prepare', env(w.home(), { GS_BRANCH: 'nope' }));
    expect(r.exitCode).toBe(EXIT.NO_BRANCH);
    expect(parsePrepare(r)).toEqual({ kind: 'no_branch' });
  });

  it('exits CLONE when the repo cannot be cloned', () => {
    const r = runScript('prepare', env(w.home(), { GS_URL: path.join(w.root, 'missing.git') }));
    expect(r.exitCode).toBe(EXIT.CLONE);
    expect(parsePrepare(r)).toMatchObject({ kind: 'clone_failed' });
  });
});

describe('prepare.sh with GS_EXPECT', () => {
  it('skips the fetch when the clone\'s origin/<base> is the expected tip', () => {
    const home = w.home();
    const env = { HOME: home, GS_URL: w.remote, GS_BRANCH: 'main', GS_AGENT_BRANCH: 'agent/a/t', GS_AGENT: 'a', GS_AUTH: 'Basic abc' };
    const seen = w.remoteRef('main');
    runScript('prepare', env);
    w.commitAndPush(w.clone('other'), 'main', { 'later.txt': 'l' });
    expect(parsePrepare(runScript('prepare', { ...env, GS_EXPECT: seen }))).toMatchObject({ kind: 'ready', base: seen, fetched: false });
  });
});

describe('prepare.sh on a clone the pool verified fresh', () => {
  // A `git` first on PATH that logs each command's subcommand and runs the real one.
  function gitLog(): { env: Record<string, string>; commands: () => string[] } {
    const bin = path.join(w.root, 'logbin');
    const log = path.join(w.root, 'git.log');
    const real = spawnSync('bash', ['-c', 'command -v git'], { encoding: 'utf8' }).stdout.trim();
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'git'), `#!/bin/bash\nprintf '%s\\n' "$*" >> ${JSON.stringify(log)}\nexec ${JSON.stringify(real)} "$@"\n`, { mode: 0o755 });
    return {
      env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
      commands: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []),
    };
  }
  // As the service runs it: its git settings (the lease's header among them) come in GIT_CONFIG_* vars.
  const lease = (home: string, over: Record<string, string> = {}) => ({
    HOME: home, GS_URL: w.remote, GS_BRANCH: 'main', GS_AGENT_BRANCH: 'agent/a/t', GS_AGENT: 'a', GS_AUTH: 'Basic abc', GS_EXPECT: w.remoteRef('main'),
    ...serviceGitEnv({ authorization: over.GS_AUTH ?? 'Basic abc' }), ...over,
  });

  it('checks out the agent branch with three git commands and no network, and writes the lease config once', () => {
    const home = w.home();
    runScript('preclone', { HOME: home, GS_URL: w.remote, GS_BRANCH: 'main' });
    const g = gitLog();
    const r = parsePrepare(runScript('prepare', { ...lease(home, { GS_AGENT: 'bot.7_x-y' }), ...g.env }));
    const repo = path.join(home, 'repo');
    expect(r).toEqual({ kind: 'ready', home, workdir: repo, base: w.remoteRef('main'), fetched: false });
    expect(g.commands().map((c) => c.split(' ').find((a) => !a.startsWith('-') && a !== 'repo'))).toEqual(['config', 'rev-parse', 'checkout']);
    expect(git(repo, 'symbolic-ref', '--short', 'HEAD')).toBe('agent/a/t');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(w.remoteRef('main'));
    expect(git(repo, 'config', '--get-all', 'http.extraHeader')).toBe('Authorization: Basic abc');
    expect(git(repo, 'config', 'user.name')).toBe('bot.7_x-y');
    expect(git(repo, 'config', 'user.email')).toBe('bot.7_x-y@agents.git-sandbox.invalid');
    expect(git(repo, 'config', 'rebase.autoStash')).toBe('true');
    expect(git(repo, 'config', 'git-sandbox.base')).toBe('main');
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  it('takes the short path on a clone a scrub returned', () => {
    const repo = w.lease();
    const home = path.dirname(repo);
    // The scrub keeps only a clone of the gateway's http(s) URL; the short path runs no network command.
    const url = 'http://127.0.0.1:9/o/r.git';
    git(repo, 'config', 'remote.origin.url', url);
    const scrub = runScript('scrub', { GS_HOME: home, GS_TIP: w.remoteRef('main'), GS_URL: url, HOME: path.join(w.root, 'nohome'), E2B_SANDBOX_ID: `test-${Date.now()}` });
    expect(parseScrub(scrub)).toMatchObject({ clean: true });
    const g = gitLog();
    expect(parsePrepare(runScript('prepare', { ...lease(home, { GS_URL: url }), ...g.env }))).toMatchObject({ kind: 'ready', fetched: false });
    expect(g.commands()).toHaveLength(3);
    expect(git(repo, 'config', '--get-all', 'http.extraHeader')).toBe('Authorization: Basic abc');
  });

  it('writes values with quotes, backslashes and comment characters so git reads them back exactly', () => {
    const home = w.home();
    runScript('preclone', { HOME: home, GS_URL: w.remote, GS_BRANCH: 'main' });
    const odd = 'a\\b"c;d#e & f ';
    expect(parsePrepare(runScript('prepare', lease(home, { GS_AGENT: odd, GS_AUTH: 'Bearer x"y\\z' })))).toMatchObject({ kind: 'ready', fetched: false });
    const repo = path.join(home, 'repo');
    const name = spawnSync('git', ['config', '--get', 'user.name'], { cwd: repo, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } }).stdout;
    expect(name).toBe(`${odd}\n`);
    expect(git(repo, 'config', '--get-all', 'http.extraHeader')).toBe('Authorization: Bearer x"y\\z');
  });

  it('leaves a value with a control character to git, so it stays one value and adds no config section', () => {
    const home = w.home();
    runScript('preclone', { HOME: home, GS_URL: w.remote, GS_BRANCH: 'main' });
    const sneaky = 'a\n[core]\n\thooksPath = /tmp';
    expect(parsePrepare(runScript('prepare', lease(home, { GS_AGENT: sneaky })))).toMatchObject({ kind: 'ready', fetched: false });
    const repo = path.join(home, 'repo');
    expect(read(path.join(repo, '.git'), 'config')).not.toMatch(/^\s*hooksPath/m);
    expect(git(repo, 'config', '--get-all', 'http.extraHeader')).toBe('Authorization: Basic abc');
  });

  it('replaces the settings of a clone a lease already configured, keeping one credential header', () => {
    const home = w.home();
    runScript('prepare', { HOME: home, GS_URL: w.remote, GS_BRANCH: 'main', GS_AGENT_BRANCH: 'agent/a/t', GS_AGENT: 'a', GS_AUTH: 'Basic old' });
    const repo = path.join(home, 'repo');
    w.write(repo, { 'junk.txt': 'x' });
    expect(parsePrepare(runScript('prepare', lease(home, { GS_AGENT_BRANCH: 'agent/b/u', GS_AGENT: 'b', GS_AUTH: 'Basic new' })))).toMatchObject({ kind: 'ready', fetched: false });
    expect(git(repo, 'config', '--get-all', 'http.extraHeader')).toBe('Authorization: Basic new');
    expect(git(repo, 'config', '--get-all', 'user.name')).toBe('b');
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });
});

describe('refresh.sh', () => {
  it('fetches the base into an idle clone and reports its tip', () => {
    const home = w.home();
    runScript('preclone', { HOME: home, GS_URL: w.remote, GS_BRANCH: 'main' });
    const tip = w.commitAndPush(w.clone('other'), 'main', { 'r.txt': 'r' });
    expect(parseRefresh(runScript('refresh', { HOME: home, GS_BRANCH: 'main' }))).toEqual({ kind: 'ok', base: tip });
  });
});

describe('preclone.sh', () => {
  it('clones detached, with no local branch left', () => {
    const home = w.home();
    expect(parsePreclone(runScript('preclone', { HOME: home, GS_URL: w.remote, GS_BRANCH: 'main' }))).toEqual({ kind: 'ok' });
    const repo = path.join(home, 'repo');
    expect(git(repo, 'for-each-ref', '--format=%(refname)', 'refs/heads')).toBe('');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(w.remoteRef('main'));
    expect(git(repo, 'config', 'git-sandbox.base')).toBe('main');
  });
});

describe('commit.sh', () => {
  it('commits nothing when nothing changed', () => {
    const repo = w.lease();
    const head = git(repo, 'rev-parse', 'HEAD');
    expect(parseCommit(runScript('commit', { GS_WORKDIR: repo, GS_MSG: 'm', GS_PATHS: '' }))).toEqual({ kind: 'ok', committed: false, head });
  });

  it('stages only GS_PATHS (names with spaces and quotes included) and commits with GS_MSG', () => {
    const repo = w.lease();
    w.write(repo, { "it's a file.txt": 'x', 'other.txt': 'y' });
    const r = parseCommit(runScript('commit', { GS_WORKDIR: repo, GS_MSG: 'add $(one) file', GS_PATHS: "it's a file.txt" }));
    expect(r).toMatchObject({ kind: 'ok', committed: true });
    expect(git(repo, 'log', '-1', '--format=%s')).toBe('add $(one) file');
    expect(git(repo, 'show', '--name-only', '--format=', 'HEAD')).toBe("it's a file.txt");
    expect(git(repo, 'status', '--porcelain')).toBe('?? other.txt');
  });

  it('exits NO_REPO when the workdir is gone', () => {
    const r = runScript('commit', { GS_WORKDIR: path.join(w.root, 'gone'), GS_MSG: 'm', GS_PATHS: '' });
    expect(r.exitCode).toBe(EXIT.NO_REPO);
    expect(parseCommit(r)).toMatchObject({ kind: 'failed', exitCode: EXIT.NO_REPO, step: 'workdir' });
  });
});

describe('land.sh', () => {
  const env = (repo: string) => ({ GS_WORKDIR: repo, GS_BASE: 'main', GS_TARGET: 'agent/a/t' });

  it('pushes a new agent branch, then rebases onto a moved target and pushes again', () => {
    const repo = w.lease();
    w.write(repo, { 'mine.txt': '1' });
    runScript('commit', { GS_WORKDIR: repo, GS_MSG: 'mine', GS_PATHS: '' });
    const first = parseLand(runScript('land', env(repo)));
    expect(first).toEqual({ kind: 'landed', commit: git(repo, 'rev-parse', 'HEAD'), rebased: false });
    expect(w.remoteRef('agent/a/t')).toBe(git(repo, 'rev-parse', 'HEAD'));
    const other = w.clone('other');
    git(other, 'fetch', '-q', 'origin', 'agent/a/t');
    git(other, 'checkout', '-q', '-b', 'x', 'FETCH_HEAD');
    w.commitAndPush(other, 'agent/a/t', { 'theirs.txt': '2' });
    w.write(repo, { 'mine2.txt': '3' });
    runScript('commit', { GS_WORKDIR: repo, GS_MSG: 'mine2', GS_PATHS: '' });
    const second = parseLand(runScript('land', env(repo)));
    expect(second).toMatchObject({ kind: 'landed', rebased: true });
    expect(w.remoteRef('agent/a/t')).toBe(git(repo, 'rev-parse', 'HEAD'));
    expect(fs.existsSync(path.join(repo, 'theirs.txt'))).toBe(true);
  });

  it('exits NOTHING when the target already contains HEAD', () => {
    const repo = w.lease();
    const r = runScript('land', { ...env(repo), GS_TARGET: 'main' });
    expect(r.exitCode).toBe(EXIT.NOTHING);
    expect(parseLand(r)).toEqual({ kind: 'nothing' });
  });

  it('reports the conflicted paths, aborts the rebase and keeps the commit', () => {
    const repo = w.lease();
    w.commitAndPush(w.clone('other'), 'main', { 'a.txt': 'theirs\n' });
    w.write(repo, { 'a.txt': 'mine\n' });
    runScript('commit', { GS_WORKDIR: repo, GS_MSG: 'mine', GS_PATHS: '' });
    const head = git(repo, 'rev-parse', 'HEAD');
    const r = runScript('land', { ...env(repo), GS_TARGET: 'main' });
    expect(r.exitCode).toBe(EXIT.CONFLICT);
    expect(parseLand(r)).toEqual({ kind: 'conflict', paths: ['a.txt'] });
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  it('exits REJECTED when the remote refuses the update, and FENCED when it names the fencing token', () => {
    const repo = w.lease();
    w.write(repo, { 'mine.txt': '1' });
    runScript('commit', { GS_WORKDIR: repo, GS_MSG: 'mine', GS_PATHS: '' });
    const hook = path.join(w.remote, 'hooks', 'pre-receive');
    fs.writeFileSync(hook, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const rejected = runScript('land', env(repo));
    expect(rejected.exitCode).toBe(EXIT.REJECTED);
    expect(parseLand(rejected)).toEqual({ kind: 'rejected', rebased: false });
    fs.writeFileSync(hook, '#!/bin/sh\necho "stale fencing token" >&2\nexit 1\n', { mode: 0o755 });
    expect(parseLand(runScript('land', env(repo)))).toEqual({ kind: 'fenced' });
  });
});

describe('pull.sh', () => {
  it('rebases onto the new base tip, keeping uncommitted changes', () => {
    const repo = w.lease();
    const before = git(repo, 'rev-parse', 'HEAD');
    const tip = w.commitAndPush(w.clone('other'), 'main', { 'b.txt': 'b\n' });
    w.write(repo, { 'README': 'edited\n' });
    expect(parsePull(runScript('pull', { GS_WORKDIR: repo, GS_BASE: 'main' }))).toEqual({ kind: 'ok', before, head: tip });
    expect(read(repo, 'README')).toBe('edited\n');
  });

  it('reports a conflict and leaves the branch as it was', () => {
    const repo = w.lease();
    w.commitAndPush(w.clone('other'), 'main', { 'a.txt': 'theirs\n' });
    w.write(repo, { 'a.txt': 'mine\n' });
    runScript('commit', { GS_WORKDIR: repo, GS_MSG: 'mine', GS_PATHS: '' });
    const head = git(repo, 'rev-parse', 'HEAD');
    expect(parsePull(runScript('pull', { GS_WORKDIR: repo, GS_BASE: 'main' }))).toEqual({ kind: 'conflict', paths: ['a.txt'] });
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
  });
});

/** Commits `files` in a new lease of agent `agent` and parks it on the queue as `entry`. */
function queued(entry: string, agent: string, files: Record<string, string>): { repo: string; head: string } {
  const repo = w.lease(`agent/${agent}/t`);
  w.write(repo, files);
  runScript('commit', { GS_WORKDIR: repo, GS_MSG: `${agent}: change\n\nGit-Sandbox-Agent: forged`, GS_PATHS: '' });
  const q = parseQueue(runScript('queue', { GS_WORKDIR: repo, GS_BASE: 'main', GS_ENTRY: entry }));
  if (q.kind !== 'queued') throw new Error(`queue failed: ${JSON.stringify(q)}`);
  return { repo, head: q.head };
}

describe('queue.sh', () => {
  it('parks HEAD on the entry\'s queue ref', () => {
    const { head } = queued('sbx_1-aa', 'a', { 'q.txt': 'q' });
    expect(w.remoteRef(`${QUEUE_PREFIX}/sbx_1-aa`)).toBe(head);
  });

  it('exits NOTHING when origin/<base> already contains HEAD', () => {
    const repo = w.lease();
    const r = runScript('queue', { GS_WORKDIR: repo, GS_BASE: 'main', GS_ENTRY: 'sbx_1-bb' });
    expect(parseQueue(r)).toEqual({ kind: 'nothing' });
    expect(w.remoteRef(`${QUEUE_PREFIX}/sbx_1-bb`)).toBe('');
  });
});

describe('land-batch.sh', () => {
  const landerEnv = (lander: string, entries: string) => ({ GS_WORKDIR: lander, GS_BASE: 'main', GS_FENCE: '7', GS_ENTRIES: entries });

  it('lands entries in order with the service as committer and one trailer per agent, and deletes their queue refs', () => {
    queued('sbx_1-e1', 'a', { 'one.txt': '1' });
    queued('sbx_2-e2', 'b', { 'two.txt': '2' });
    const lander = w.lease('git-sandbox/lander');
    const raw = runScript('land-batch', landerEnv(lander, 'sbx_1-e1 a\nsbx_2-e2 b'));
    expect(raw.stderr).toMatch(/^__GS_STEPS=fetch:\d+ land:\d+ push:\d+ bundle:\d+$/m);
    const r = parseLandBatch(raw);
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    const tip = w.remoteRef('main');
    expect(r.tip).toBe(tip);
    expect([...r.outcomes.keys()]).toEqual(['sbx_1-e1', 'sbx_2-e2']);
    expect(r.outcomes.get('sbx_2-e2')).toEqual({ status: 'landed', commit: tip, conflicts: [] });
    const first = r.outcomes.get('sbx_1-e1')?.commit ?? '';
    expect(git(lander, 'rev-parse', `${tip}^`)).toBe(first);
    const msg = git(w.remote, 'log', '-1', '--format=%B', tip);
    expect(msg.match(/^Git-Sandbox-Agent: .*$/gm)).toEqual(['Git-Sandbox-Agent: b']);
    expect(msg).toContain('Git-Sandbox-Entry: sbx_2-e2');
    expect(git(w.remote, 'log', '-1', '--format=%an|%cn', tip)).toBe('Test Author|git-sandbox');
    expect(w.remoteRef(`${QUEUE_PREFIX}/sbx_1-e1`)).toBe('');
    expect(w.remoteRef(`${QUEUE_PREFIX}/sbx_2-e2`)).toBe('');
  });

  it('reports a conflicting entry with its paths and a missing one, landing the rest', () => {
    queued('sbx_1-c1', 'a', { 'a.txt': 'A\n' });
    queued('sbx_2-c2', 'b', { 'a.txt': 'B\n' });
    const lander = w.lease('git-sandbox/lander');
    const r = parseLandBatch(runScript('land-batch', landerEnv(lander, 'sbx_1-c1 a\nsbx_2-c2 b\nsbx_3-gone c')));
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    expect(r.outcomes.get('sbx_1-c1')).toMatchObject({ status: 'landed' });
    expect(r.outcomes.get('sbx_2-c2')).toEqual({ status: 'conflict', commit: undefined, conflicts: ['a.txt'] });
    expect(r.outcomes.get('sbx_3-gone')).toEqual({ status: 'missing', commit: undefined, conflicts: [] });
    expect(w.remoteRef(`${QUEUE_PREFIX}/sbx_2-c2`)).toBe('');
  });

  it('finds an entry already on the base by its trailer when its queue ref is gone', () => {
    queued('sbx_1-r1', 'a', { 'r.txt': 'r' });
    const lander = w.lease('git-sandbox/lander');
    const once = parseLandBatch(runScript('land-batch', landerEnv(lander, 'sbx_1-r1 a')));
    if (once.kind !== 'ok') throw new Error(JSON.stringify(once));
    const again = parseLandBatch(runScript('land-batch', landerEnv(lander, 'sbx_1-r1 a')));
    if (again.kind !== 'ok') throw new Error(JSON.stringify(again));
    expect(again.outcomes.get('sbx_1-r1')).toEqual(once.outcomes.get('sbx_1-r1'));
  });

  it('exits FENCED when the remote refuses the lander\'s fencing token', () => {
    queued('sbx_1-f1', 'a', { 'f.txt': 'f' });
    const lander = w.lease('git-sandbox/lander');
    fs.writeFileSync(path.join(w.remote, 'hooks', 'pre-receive'), '#!/bin/sh\necho "stale fencing token" >&2\nexit 1\n', { mode: 0o755 });
    const r = runScript('land-batch', landerEnv(lander, 'sbx_1-f1 a'));
    expect(r.exitCode).toBe(EXIT.FENCED);
    expect(parseLandBatch(r)).toEqual({ kind: 'fenced' });
  });
});

describe('sync-landed.sh', () => {
  const landerEnv = (lander: string, entries: string) => ({ GS_WORKDIR: lander, GS_BASE: 'main', GS_FENCE: '9', GS_ENTRIES: entries });

  it('moves the lease\'s branch to the landed commit and origin/<base> to it, keeping uncommitted files', () => {
    const { repo } = queued('sbx_1-s1', 'a', { 's.txt': 's' });
    const lander = w.lease('git-sandbox/lander');
    const r = parseLandBatch(runScript('land-batch', { GS_WORKDIR: lander, GS_BASE: 'main', GS_FENCE: '1', GS_ENTRIES: 'sbx_1-s1 a' }));
    if (r.kind !== 'ok' || !r.tip) throw new Error(JSON.stringify(r));
    w.write(repo, { 'wip.txt': 'wip' });
    expect(parseSyncLanded(runScript('sync-landed', { GS_WORKDIR: repo, GS_BASE: 'main', GS_COMMIT: r.tip }))).toEqual({ kind: 'ok' });
    expect(git(repo, 'rev-parse', 'HEAD', 'origin/main')).toBe(`${r.tip}\n${r.tip}`);
    expect(read(repo, 'wip.txt')).toBe('wip');
  });

  it('takes the landed objects from the landing\'s bundle, with no fetch', () => {
    const a = queued('sbx_1-b1', 'a', { 'b1.txt': '1' });
    const b = queued('sbx_2-b2', 'b', { 'b2.txt': '2' });
    const lander = w.lease('git-sandbox/lander');
    const r = parseLandBatch(runScript('land-batch', landerEnv(lander, 'sbx_1-b1 a\nsbx_2-b2 b')));
    if (r.kind !== 'ok' || !r.tip || !r.bundle) throw new Error(JSON.stringify(r));
    for (const repo of [a.repo, b.repo]) {
      // An origin that cannot answer: the objects can only come from the bundle.
      git(repo, 'remote', 'set-url', 'origin', path.join(w.remote, 'gone.git'));
      expect(parseSyncLanded(runScript('sync-landed', { GS_WORKDIR: repo, GS_BASE: 'main', GS_COMMIT: r.tip, GS_BUNDLE: r.bundle }))).toEqual({ kind: 'ok' });
      expect(git(repo, 'rev-parse', 'HEAD', 'origin/main')).toBe(`${r.tip}\n${r.tip}`);
    }
  });

  it('puts in the bundle nothing of an entry that did not land', () => {
    // Made first: a local clone copies the remote's whole object store, queue refs' objects included.
    const reader = w.lease('agent/c/t');
    queued('sbx_1-k1', 'a', { 'a.txt': 'landed\n' });
    const secret = 'unlanded secret of b\n';
    queued('sbx_2-k2', 'b', { 'a.txt': secret });
    const lander = w.lease('git-sandbox/lander');
    const r = parseLandBatch(runScript('land-batch', landerEnv(lander, 'sbx_1-k1 a\nsbx_2-k2 b')));
    if (r.kind !== 'ok' || !r.bundle) throw new Error(JSON.stringify(r));
    expect(r.outcomes.get('sbx_2-k2')?.status).toBe('conflict');
    // A third agent's clone takes everything the bundle holds: the conflicting entry's blob is not there.
    const file = path.join(reader, '..', 'landing.bundle');
    fs.writeFileSync(file, Buffer.from(r.bundle, 'base64'));
    git(reader, 'bundle', 'unbundle', file);
    const blob = spawnSync('git', ['hash-object', '--stdin'], { input: secret, encoding: 'utf8' }).stdout.trim();
    expect(spawnSync('git', ['cat-file', '-e', blob], { cwd: reader }).status).not.toBe(0);
    expect(spawnSync('git', ['cat-file', '-e', `${r.tip}^{commit}`], { cwd: reader }).status).toBe(0);
  });

  it('fetches when the bundle is unusable', () => {
    const { repo } = queued('sbx_1-b3', 'a', { 'b3.txt': '3' });
    const lander = w.lease('git-sandbox/lander');
    const r = parseLandBatch(runScript('land-batch', landerEnv(lander, 'sbx_1-b3 a')));
    if (r.kind !== 'ok' || !r.tip) throw new Error(JSON.stringify(r));
    expect(parseSyncLanded(runScript('sync-landed', { GS_WORKDIR: repo, GS_BASE: 'main', GS_COMMIT: r.tip, GS_BUNDLE: 'bm90IGEgYnVuZGxl' }))).toEqual({ kind: 'ok' });
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(r.tip);
  });
});

describe('the small scripts', () => {
  it('fetch-base.sh brings origin/<base> to the remote tip', () => {
    const repo = w.lease();
    const tip = w.commitAndPush(w.clone('other'), 'main', { 'n.txt': 'n' });
    expect(parseFetchBase(runScript('fetch-base', { GS_WORKDIR: repo, GS_BASE: 'main' }))).toEqual({ kind: 'ok' });
    expect(git(repo, 'rev-parse', 'origin/main')).toBe(tip);
  });

  it('list-queue-refs.sh lists the entries on the remote, drop-queue-ref.sh and sweep-queue-refs.sh delete them', () => {
    queued('sbx_1-l1', 'a', { 'l1.txt': '1' });
    queued('sbx_1-l2', 'a', { 'l2.txt': '2' });
    const { repo } = queued('sbx_2-l3', 'b', { 'l3.txt': '3' });
    expect(parseListQueueRefs(runScript('list-queue-refs', { GS_WORKDIR: repo }))).toEqual({ kind: 'ok', entryIds: ['sbx_1-l1', 'sbx_1-l2', 'sbx_2-l3'] });
    expect(parseDropQueueRef(runScript('drop-queue-ref', { GS_WORKDIR: repo, GS_ENTRY: 'sbx_2-l3' }))).toEqual({ kind: 'ok' });
    expect(parseSweepQueueRefs(runScript('sweep-queue-refs', { GS_WORKDIR: repo, GS_ENTRIES: 'sbx_1-l1\nsbx_1-l2' }))).toEqual({ kind: 'ok' });
    expect(parseListQueueRefs(runScript('list-queue-refs', { GS_WORKDIR: repo }))).toEqual({ kind: 'ok', entryIds: [] });
    expect(parseSweepQueueRefs(runScript('sweep-queue-refs', { GS_WORKDIR: repo, GS_ENTRIES: '' }))).toEqual({ kind: 'ok' });
  });

  it('drop-queue-ref.sh exits FAILED when the push fails', () => {
    const r = runScript('drop-queue-ref', { GS_WORKDIR: path.join(w.root, 'gone'), GS_ENTRY: 'x' });
    expect(r.exitCode).toBe(EXIT.FAILED);
    expect(parseDropQueueRef(r)).toMatchObject({ kind: 'failed' });
  });
});

describe('scrub.sh', () => {
  it('returns a used clone to origin/<base>: hooks, config, branches, files and processes of the lease gone', () => {
    const repo = w.lease();
    const home = path.dirname(repo);
    const tmp = path.join(w.root, 'tmpdir');
    fs.mkdirSync(tmp);
    w.write(repo, { 'wip.txt': 'x', '.git/hooks/post-checkout': '#!/bin/sh\ntouch /tmp/pwned\n' });
    w.write(home, { '.bashrc': 'evil', 'notes/n.txt': 'n' });
    w.write(tmp, { 'left.txt': 'x' });
    git(repo, 'config', 'core.fsmonitor', 'evil');
    git(repo, 'branch', 'extra');
    // A clone's origin is always the gateway's http(s) URL; the scrub rebuilds from the clone itself.
    const url = 'http://127.0.0.1:9/o/r.git';
    git(repo, 'config', 'remote.origin.url', url);
    const sid = `test-${Date.now()}`;
    const r = runScript('scrub', { GS_HOME: home, GS_TIP: w.remoteRef('main'), GS_URL: url, HOME: path.join(w.root, 'nohome'), TMPDIR: tmp, E2B_SANDBOX_ID: sid });
    expect(parseScrub(r)).toEqual({ clean: true, scope: 'sandbox', base: w.remoteRef('main'), stray: null });
    expect(fs.readdirSync(home)).toEqual(['repo']);
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(fs.existsSync(path.join(repo, '.git', 'hooks'))).toBe(false);
    expect(git(repo, 'for-each-ref', '--format=%(refname)')).toBe('refs/remotes/origin/main');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(w.remoteRef('main'));
    expect(git(repo, 'status', '--porcelain', '--ignored')).toBe('');
    expect(git(repo, 'config', '--get', 'remote.origin.url')).toBe(url);
    expect(spawnSync('git', ['-C', repo, 'config', '--get', 'core.fsmonitor']).status).toBe(1);
  });

  it('writes the rebuilt config so git reads back a URL and base that need quoting', () => {
    const repo = w.lease('agent/a/t', 'main');
    const url = 'http://127.0.0.1:9/o/r"q\\s;#.git';
    git(repo, 'config', 'remote.origin.url', url);
    const r = runScript('scrub', { GS_HOME: path.dirname(repo), GS_TIP: w.remoteRef('main'), GS_URL: url, HOME: path.join(w.root, 'nohome'), E2B_SANDBOX_ID: `test-${Date.now()}` });
    expect(parseScrub(r)).toMatchObject({ clean: true, base: w.remoteRef('main') });
    expect(git(repo, 'config', '--get', 'remote.origin.url')).toBe(url);
    expect(git(repo, 'config', '--get', 'remote.origin.fetch')).toBe('+refs/heads/main:refs/remotes/origin/main');
  });

  it('ends the processes of the sandbox it scrubs', () => {
    const repo = w.lease();
    const sid = `test-${Date.now()}`;
    const child = spawn('sleep', ['60'], { env: { ...process.env, E2B_SANDBOX_ID: sid }, stdio: 'ignore' });
    const gone = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const r = runScript('scrub', { GS_HOME: path.dirname(repo), GS_TIP: w.remoteRef('main'), HOME: path.join(w.root, 'nohome'), E2B_SANDBOX_ID: sid });
    expect(parseScrub(r)).toMatchObject({ clean: true });
    return expect(gone).resolves.toBe('SIGKILL');
  });

  it('fails (exit FAILED) for a home that is not an absolute plain directory', () => {
    const r = runScript('scrub', { GS_HOME: 'relative/home', E2B_SANDBOX_ID: 'x' });
    expect(r.exitCode).toBe(EXIT.FAILED);
    expect(parseScrub(r)).toEqual({ clean: false, scope: null, base: null, stray: null });
  });
});
