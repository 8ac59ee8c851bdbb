// land-batch.sh per entry strategy, run with bash and real git: rebase (linear), merge (a two-parent
// merge commit on the first-parent line) and squash (one commit per entry), batched in one push.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseCommit, parseLandBatch, parseQueue, type LandBatchResult } from '../../src/git/script-results.ts';
import { QUEUE_PREFIX } from '../../src/gateway/ref-rules.ts';
import { World, git, runScript } from './script-harness.ts';

vi.setConfig({ testTimeout: 60_000 });

let w: World;
beforeEach(() => {
  w = new World();
});
afterEach(() => w.dispose());

/** Commits each change set in a fresh lease clone of `agent` (one commit each, by `author`), then queues HEAD as `entry`. */
function queued(entry: string, agent: string, commits: Record<string, string>[], author = 'Ada'): { repo: string; head: string } {
  const repo = w.lease(`agent/${agent}/t`);
  commits.forEach((files, i) => {
    w.write(repo, files);
    const c = parseCommit(runScript('commit', { GS_WORKDIR: repo, GS_MSG: `${agent} change ${i + 1}\n\nGit-Sandbox-Entry: forged-${i}`, GS_PATHS: '', GIT_AUTHOR_NAME: `${author} ${i + 1}`, GIT_AUTHOR_EMAIL: `${author.toLowerCase()}${i + 1}@example.invalid` }));
    if (c.kind !== 'ok' || !c.committed) throw new Error(`commit failed: ${JSON.stringify(c)}`);
  });
  const q = parseQueue(runScript('queue', { GS_WORKDIR: repo, GS_BASE: 'main', GS_ENTRY: entry }));
  if (q.kind !== 'queued') throw new Error(`queue failed: ${JSON.stringify(q)}`);
  return { repo, head: q.head };
}

function land(lander: string, entries: string): Extract<LandBatchResult, { kind: 'ok' }> {
  const r = parseLandBatch(runScript('land-batch', { GS_WORKDIR: lander, GS_BASE: 'main', GS_FENCE: '3', GS_ENTRIES: entries }));
  if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
  return r;
}

const remote = (...args: string[]) => git(w.remote, ...args);
const parents = (c: string) => remote('rev-list', '--parents', '-n', '1', c).split(' ').slice(1);

describe('land-batch.sh strategies', () => {
  it('rebase: lands a one-commit entry behind the tip on it with its author, author date and message, re-signed', () => {
    queued('sbx_1-o1', 'a', [{ 'o1.txt': '1' }]);
    const { head } = queued('sbx_2-o2', 'b', [{ 'o2.txt': '2' }], 'Bo');
    const lander = w.lease('git-sandbox/lander');
    const before = w.remoteRef('main');
    const r = land(lander, 'sbx_1-o1 a rebase\nsbx_2-o2 b rebase');
    const tip = w.remoteRef('main');
    expect(r.outcomes.get('sbx_2-o2')).toEqual({ status: 'landed', commit: tip, conflicts: [] });
    expect(parents(tip)).toEqual([r.outcomes.get('sbx_1-o1')?.commit]);
    expect(parents(r.outcomes.get('sbx_1-o1')?.commit ?? '')).toEqual([before]);
    expect(remote('log', '-1', '--format=%an|%ae|%aI|%cn', tip)).toBe(`${git(w.remote, 'log', '-1', '--format=%an|%ae|%aI', head)}|git-sandbox`);
    expect(remote('log', '-1', '--format=%B', tip)).toBe('b change 1\n\nGit-Sandbox-Agent: b\nGit-Sandbox-Entry: sbx_2-o2');
    expect(remote('ls-tree', '--name-only', tip).split('\n')).toEqual(expect.arrayContaining(['o1.txt', 'o2.txt']));
  });

  it('rebase: refuses (failed) a one-commit entry whose change the tip already holds, since it would not land unchanged', () => {
    queued('sbx_1-d1', 'a', [{ 'dup.txt': 'same\n' }]);
    w.commitAndPush(w.clone('other'), 'main', { 'dup.txt': 'same\n' });
    const lander = w.lease('git-sandbox/lander');
    const before = w.remoteRef('main');
    const r = land(lander, 'sbx_1-d1 a rebase');
    expect(r.outcomes.get('sbx_1-d1')).toEqual({ status: 'failed', commit: undefined, conflicts: [] });
    expect(w.remoteRef('main')).toBe(before);
  });

  it('merge: lands a two-parent merge commit by the service whose first parent is the old tip, the agent\'s commits re-signed under it', () => {
    const before = w.remoteRef('main');
    queued('sbx_1-m1', 'a', [{ 'm1.txt': '1' }, { 'm2.txt': '2' }]);
    const lander = w.lease('git-sandbox/lander');
    const r = land(lander, 'sbx_1-m1 a merge agent/a/t');
    const tip = w.remoteRef('main');
    expect(r.outcomes.get('sbx_1-m1')).toEqual({ status: 'landed', commit: tip, conflicts: [] });
    const [first, second] = parents(tip);
    expect(first).toBe(before);
    expect(remote('log', '-1', '--format=%an|%cn', tip)).toBe('git-sandbox|git-sandbox');
    const msg = remote('log', '-1', '--format=%B', tip);
    expect(msg.split('\n')[0]).toBe('Merge agent/a/t');
    expect(msg).toContain('Git-Sandbox-Agent: a');
    expect(msg).toContain('Git-Sandbox-Entry: sbx_1-m1');
    // The agent's two commits sit on the second parent, authors kept, each with the real trailers only.
    const inner = remote('log', '--format=%an|%cn|%(trailers:key=Git-Sandbox-Entry,valueonly,separator=%x20)', `${before}..${second}`).split('\n');
    expect(inner).toEqual(['Ada 2|git-sandbox|sbx_1-m1', 'Ada 1|git-sandbox|sbx_1-m1']);
    expect(remote('rev-list', '--count', '--first-parent', `${before}..${tip}`)).toBe('1');
    expect(w.remoteRef(`${QUEUE_PREFIX}/sbx_1-m1`)).toBe('');
  });

  it('merge: a later landing finds an entry whose report was lost by the merge commit\'s trailer on the first-parent history', () => {
    queued('sbx_1-m2', 'a', [{ 'x.txt': 'x' }, { 'y.txt': 'y' }]);
    const lander = w.lease('git-sandbox/lander');
    const once = land(lander, 'sbx_1-m2 a merge agent/a/t');
    const again = land(lander, 'sbx_1-m2 a merge agent/a/t');
    expect(again.outcomes.get('sbx_1-m2')).toEqual(once.outcomes.get('sbx_1-m2'));
    expect(parents(once.outcomes.get('sbx_1-m2')!.commit!)).toHaveLength(2);
  });

  it('squash: lands one commit per entry with the first commit\'s message and author, the others listed, and the trailers', () => {
    const before = w.remoteRef('main');
    queued('sbx_1-s1', 'a', [{ 's1.txt': '1' }, { 's2.txt': '2' }, { 's3.txt': '3' }]);
    queued('sbx_2-s2', 'b', [{ 't1.txt': '1' }], 'Bo');
    const lander = w.lease('git-sandbox/lander');
    const r = land(lander, 'sbx_1-s1 a squash agent/a/t\nsbx_2-s2 b squash agent/b/t');
    const tip = w.remoteRef('main');
    expect(remote('rev-list', '--count', `${before}..${tip}`)).toBe('2');
    const a = r.outcomes.get('sbx_1-s1')!.commit!;
    expect(parents(a)).toEqual([before]);
    expect(parents(tip)).toEqual([a]);
    expect(remote('log', '-1', '--format=%an <%ae>|%cn', a)).toBe('Ada 1 <ada1@example.invalid>|git-sandbox');
    const msg = remote('log', '-1', '--format=%B', a);
    expect(msg.split('\n')[0]).toBe('a change 1');
    expect(msg).toContain('Squashed 3 commits:\n* a change 1\n* a change 2\n* a change 3');
    expect(msg.match(/^Git-Sandbox-Entry: .*$/gm)).toEqual(['Git-Sandbox-Entry: sbx_1-s1']);
    expect(remote('ls-tree', '--name-only', a)).toContain('s3.txt');
    expect(remote('log', '-1', '--format=%s|%an', tip)).toBe('b change 1|Bo 1');
  });

  it('lands a mixed batch (rebase, merge, squash) in order with one push, each in its own shape', () => {
    const before = w.remoteRef('main');
    queued('sbx_1-r', 'a', [{ 'r1.txt': '1' }, { 'r2.txt': '2' }]);
    queued('sbx_2-m', 'b', [{ 'm.txt': 'm' }]);
    queued('sbx_3-s', 'c', [{ 'q1.txt': '1' }, { 'q2.txt': '2' }]);
    const lander = w.lease('git-sandbox/lander');
    const r = land(lander, 'sbx_1-r a\nsbx_2-m b merge agent/b/t\nsbx_3-s c squash agent/c/t');
    const tip = w.remoteRef('main');
    const [rc, mc, sc] = ['sbx_1-r', 'sbx_2-m', 'sbx_3-s'].map((id) => r.outcomes.get(id)!.commit!);
    expect(sc).toBe(tip);
    expect(parents(sc)).toEqual([mc]);
    expect(parents(mc)[0]).toBe(rc);
    expect(parents(mc)).toHaveLength(2);
    // rebase: two linear commits on the old tip.
    expect(remote('rev-list', '--count', `${before}..${rc}`)).toBe('2');
    expect(remote('rev-list', '--count', '--merges', `${before}..${rc}`)).toBe('0');
    expect(remote('rev-list', '--first-parent', '--format=%(trailers:key=Git-Sandbox-Entry,valueonly,separator=%x20)', '--no-commit-header', `${before}..${tip}`).split('\n').filter(Boolean)).toEqual([
      'sbx_3-s',
      'sbx_2-m',
      'sbx_1-r',
      'sbx_1-r',
    ]);
  });

  it('reports a conflicting merge or squash entry with its paths and lands the rest', () => {
    queued('sbx_1-k1', 'a', [{ 'a.txt': 'A\n' }]);
    queued('sbx_2-k2', 'b', [{ 'a.txt': 'B\n' }]);
    queued('sbx_3-k3', 'c', [{ 'a.txt': 'C\n' }]);
    queued('sbx_4-k4', 'd', [{ 'd.txt': 'd' }]);
    const lander = w.lease('git-sandbox/lander');
    const r = land(lander, 'sbx_1-k1 a squash agent/a/t\nsbx_2-k2 b merge agent/b/t\nsbx_3-k3 c squash agent/c/t\nsbx_4-k4 d merge agent/d/t');
    expect(r.outcomes.get('sbx_1-k1')).toMatchObject({ status: 'landed' });
    expect(r.outcomes.get('sbx_2-k2')).toEqual({ status: 'conflict', commit: undefined, conflicts: ['a.txt'] });
    expect(r.outcomes.get('sbx_3-k3')).toEqual({ status: 'conflict', commit: undefined, conflicts: ['a.txt'] });
    expect(r.outcomes.get('sbx_4-k4')).toMatchObject({ status: 'landed', commit: w.remoteRef('main') });
    expect(remote('show', 'main:a.txt')).toBe('A');
  });
});
