// Shallow and partial clones through prepare.sh (GS_DEPTH, GS_FILTER) and what the scrub keeps of
// them, with real git against a file:// remote (local path clones ignore --depth and --filter).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parsePrepare, parseScrub } from '../../src/git/script-results.ts';
import { World, git, runScript } from './script-harness.ts';

vi.setConfig({ testTimeout: 60_000 });

let w: World;
let url: string;
beforeEach(() => {
  w = new World();
  url = `file://${w.remote}`;
  git(w.remote, 'config', 'uploadpack.allowFilter', 'true');
  // Three commits on main, so a depth-1 clone leaves two out.
  const other = w.clone('other');
  w.commitAndPush(other, 'main', { 'a.txt': 'changed\n', 'b.txt': 'b\n' });
  w.commitAndPush(other, 'main', { 'c.txt': 'c\n' });
});
afterEach(() => w.dispose());

const env = (home: string, over: Record<string, string> = {}) => ({ HOME: home, GS_URL: url, GS_BRANCH: 'main', GS_AGENT_BRANCH: 'agent/a/t', GS_AGENT: 'a', GS_AUTH: 'Basic abc', ...over });
const count = (repo: string) => Number(git(repo, 'rev-list', '--count', 'HEAD'));

describe('prepare.sh clone shapes', () => {
  it('makes a shallow single-branch clone with GS_DEPTH', () => {
    const home = w.home();
    expect(parsePrepare(runScript('prepare', env(home, { GS_DEPTH: '1' })))).toMatchObject({ kind: 'ready', base: w.remoteRef('main') });
    const repo = path.join(home, 'repo');
    expect(git(repo, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(count(repo)).toBe(1);
    expect(git(repo, 'symbolic-ref', '--short', 'HEAD')).toBe('agent/a/t');
  });

  it('deepens a shallow clone it reuses for a lease that asks for the whole history', () => {
    const home = w.home();
    runScript('prepare', env(home, { GS_DEPTH: '1' }));
    expect(parsePrepare(runScript('prepare', env(home)))).toMatchObject({ kind: 'ready', fetched: true });
    const repo = path.join(home, 'repo');
    expect(git(repo, 'rev-parse', '--is-shallow-repository')).toBe('false');
    expect(count(repo)).toBe(3);
  });

  it('deepens a shallow clone even when the pool saw it fresh', () => {
    const home = w.home();
    runScript('prepare', env(home, { GS_DEPTH: '1' }));
    expect(parsePrepare(runScript('prepare', env(home, { GS_EXPECT: w.remoteRef('main') })))).toMatchObject({ kind: 'ready', fetched: true });
    expect(count(path.join(home, 'repo'))).toBe(3);
  });

  it('makes a partial clone with GS_FILTER, and clones again for a lease that asks for every blob', () => {
    const home = w.home();
    expect(parsePrepare(runScript('prepare', env(home, { GS_FILTER: 'blob:none' })))).toMatchObject({ kind: 'ready' });
    const repo = path.join(home, 'repo');
    expect(git(repo, 'config', 'remote.origin.promisor')).toBe('true');
    expect(git(repo, 'config', 'remote.origin.partialclonefilter')).toBe('blob:none');
    expect(fs.readFileSync(path.join(repo, 'c.txt'), 'utf8')).toBe('c\n');
    expect(parsePrepare(runScript('prepare', env(home)))).toMatchObject({ kind: 'ready' });
    expect(git(repo, 'config', '--default', '', 'remote.origin.promisor')).toBe('');
    expect(count(repo)).toBe(3);
  });

  it('refuses a depth or a filter it does not know', () => {
    const bad: Record<string, string>[] = [{ GS_DEPTH: '1; rm -rf /' }, { GS_DEPTH: '0' }, { GS_FILTER: 'tree:0' }];
    for (const over of bad) {
      expect(parsePrepare(runScript('prepare', env(w.home(), over)))).toMatchObject({ kind: 'failed' });
    }
  });
});

describe('scrub.sh with shaped clones', () => {
  const scrub = (repo: string) => {
    // A clone's origin is always the gateway's http(s) URL; the scrub rebuilds from the clone itself.
    const gateway = 'http://127.0.0.1:9/o/r.git';
    git(repo, 'config', 'remote.origin.url', gateway);
    return parseScrub(runScript('scrub', { GS_HOME: path.dirname(repo), GS_TIP: w.remoteRef('main'), GS_URL: gateway, HOME: path.join(w.root, 'nohome'), E2B_SANDBOX_ID: `test-${Date.now()}` }));
  };

  it('keeps a shallow clone shallow and clean at the tip', () => {
    const home = w.home();
    runScript('prepare', env(home, { GS_DEPTH: '1' }));
    const repo = path.join(home, 'repo');
    w.write(repo, { 'wip.txt': 'x' });
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'wip');
    expect(scrub(repo)).toEqual({ clean: true, scope: 'sandbox', base: w.remoteRef('main'), stray: null });
    expect(git(repo, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(w.remoteRef('main'));
    expect(git(repo, 'status', '--porcelain', '--ignored')).toBe('');
  });

  it('removes a partial clone (the next lease clones)', () => {
    const home = w.home();
    runScript('prepare', env(home, { GS_FILTER: 'blob:none' }));
    const repo = path.join(home, 'repo');
    expect(scrub(repo)).toEqual({ clean: true, scope: 'sandbox', base: null, stray: null });
    expect(fs.readdirSync(home)).toEqual([]);
  });

  it('removes a partial clone whose config no longer says it is one', () => {
    const home = w.home();
    runScript('prepare', env(home, { GS_FILTER: 'blob:none' }));
    const repo = path.join(home, 'repo');
    git(repo, 'config', '--unset', 'remote.origin.promisor');
    git(repo, 'config', '--unset', 'remote.origin.partialclonefilter');
    // Blobs of older commits were never fetched.
    expect(scrub(repo)).toMatchObject({ clean: true, base: null });
    expect(fs.readdirSync(home)).toEqual([]);
  });
});
