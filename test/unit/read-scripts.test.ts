// The workbench scripts (log, show, list-files, search, write-files) run with bash and real git
// against a lease's clone, through their parsers.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseListFiles, parseLog, parseSearch, parseShow, parseWriteFiles } from '../../src/git/read-results.ts';
import { globSpec, literalSpec } from '../../src/git/revision.ts';
import { World, git, runScript } from './script-harness.ts';

vi.setConfig({ testTimeout: 60_000 });

let w: World;
let repo: string;
beforeEach(() => {
  w = new World();
  repo = w.lease();
});
afterEach(() => w.dispose());

const CAP = 1 << 20;
const commit = (files: Record<string, string>, message: string) => {
  w.write(repo, files);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', message);
  return git(repo, 'rev-parse', 'HEAD');
};

describe('log.sh', () => {
  const log = (env: Record<string, string>, cap = CAP) => parseLog(runScript('log', { GS_WORKDIR: repo, GS_RANGE: 'HEAD', GS_SPEC: '', GS_LIMIT: '20', GS_CAP: String(cap), ...env }), cap);

  it('lists commits newest first with author, date and subject', () => {
    const sha = commit({ 'b.txt': 'b\n' }, 'add b\n\nwith a body');
    const r = log({});
    expect(r).toMatchObject({ kind: 'ok', truncated: false });
    if (r.kind !== 'ok') return;
    expect(r.commits.map((c) => c.subject)).toEqual(['add b', 'seed']);
    expect(r.commits[0]).toMatchObject({ sha, author_name: 'Test Author', author_email: 'author@example.invalid' });
    expect(r.commits[0].date).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('takes a range, a path and a limit', () => {
    const base = git(repo, 'rev-parse', 'HEAD');
    commit({ 'b.txt': 'b\n' }, 'one');
    commit({ 'c.txt': 'c\n' }, 'two');
    commit({ 'b.txt': 'bb\n' }, 'three');
    expect(log({ GS_RANGE: `${base}..HEAD` })).toMatchObject({ commits: [{ subject: 'three' }, { subject: 'two' }, { subject: 'one' }] });
    expect(log({ GS_SPEC: literalSpec('b.txt') })).toMatchObject({ commits: [{ subject: 'three' }, { subject: 'one' }] });
    expect(log({ GS_LIMIT: '1' })).toMatchObject({ commits: [{ subject: 'three' }] });
  });

  it('reports a range that names no commit', () => {
    expect(log({ GS_RANGE: 'nope..HEAD' })).toEqual({ kind: 'bad_rev' });
    expect(log({ GS_RANGE: '--all' })).toEqual({ kind: 'bad_rev' });
  });

  it('cuts at the cap and keeps whole records only', () => {
    for (let i = 0; i < 20; i++) commit({ [`f${i}.txt`]: `${i}\n` }, `commit number ${i} ${'x'.repeat(40)}`);
    const r = log({}, 400);
    expect(r).toMatchObject({ kind: 'ok', truncated: true });
    if (r.kind !== 'ok') return;
    expect(r.commits.length).toBeGreaterThan(0);
    expect(r.commits.length).toBeLessThan(5);
    for (const c of r.commits) expect(c.sha).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('show.sh', () => {
  const split = '\n__GS_SPLIT_test__\n';
  const caps = { meta: 65_536, stat: CAP, diff: CAP };
  const show = (rev: string, c = caps) =>
    parseShow(runScript('show', { GS_WORKDIR: repo, GS_REV: rev, GS_SPLIT: split, GS_META_CAP: String(c.meta), GS_STAT_CAP: String(c.stat), GS_DIFF_CAP: String(c.diff) }), split, c);

  it('shows a commit: metadata, full message, numstat with binary files, and its diff', () => {
    const parent = git(repo, 'rev-parse', 'HEAD');
    fs.writeFileSync(path.join(repo, 'img.bin'), Buffer.from([0, 1, 2, 0, 255]));
    const sha = commit({ 'a.txt': '1\ntwo\n3\n', 'new.txt': 'n\n' }, 'subject line\n\nbody line 1\nbody line 2');
    const r = show('HEAD');
    expect(r).toMatchObject({ kind: 'ok', sha, parents: [parent], message: 'subject line\n\nbody line 1\nbody line 2', truncated: false });
    if (r.kind !== 'ok') return;
    expect(r.author).toMatchObject({ name: 'Test Author', email: 'author@example.invalid' });
    expect(r.committer).toMatchObject({ name: 'Test Committer', email: 'committer@example.invalid' });
    expect(r.files).toEqual([
      { path: 'a.txt', additions: 1, deletions: 1, binary: false },
      { path: 'img.bin', additions: 0, deletions: 0, binary: true },
      { path: 'new.txt', additions: 1, deletions: 0, binary: false },
    ]);
    expect(r.diff).toContain('+two');
  });

  it('shows a root commit against the empty tree', () => {
    const root = git(repo, 'rev-list', '--max-parents=0', 'HEAD');
    expect(show(root)).toMatchObject({ kind: 'ok', parents: [], message: 'seed', files: [{ path: 'README' }, { path: 'a.txt' }] });
  });

  it('cuts the patch at its cap', () => {
    commit({ 'big.txt': 'line\n'.repeat(1000) }, 'big');
    const r = show('HEAD', { ...caps, diff: 100 });
    expect(r).toMatchObject({ kind: 'ok', truncated: true, files: [{ path: 'big.txt', additions: 1000 }] });
    if (r.kind === 'ok') expect(Buffer.byteLength(r.diff)).toBeLessThanOrEqual(100);
  });

  it('reports a revision that names no commit', () => {
    expect(show('nope')).toEqual({ kind: 'bad_rev' });
    expect(show('HEAD:README')).toEqual({ kind: 'bad_rev' });
  });
});

describe('list-files.sh', () => {
  const list = (env: Record<string, string>, cap = CAP) => parseListFiles(runScript('list-files', { GS_WORKDIR: repo, GS_DIR: '', GS_SPEC: '', GS_DEPTH: '2', GS_CAP: String(cap), ...env }), cap);

  beforeEach(() => {
    commit({ 'src/a.ts': 'a\n', 'src/deep/b.ts': 'bb\n', 'src/deep/deeper/c.ts': 'c\n', '.gitignore': 'ignored/\n' }, 'tree');
    w.write(repo, { 'untracked.txt': 'u\n', 'ignored/x.txt': 'x\n' });
    fs.symlinkSync('src/a.ts', path.join(repo, 'link'));
  });

  it('lists tracked and untracked entries to the depth, with types and sizes, never .git or ignored files', () => {
    const r = list({});
    expect(r).toMatchObject({ kind: 'ok', truncated: false });
    if (r.kind !== 'ok') return;
    expect(r.entries).toEqual([
      { path: '.gitignore', type: 'file', size: 9 },
      { path: 'README', type: 'file', size: 6 },
      { path: 'a.txt', type: 'file', size: 6 },
      { path: 'link', type: 'symlink', size: 8 },
      { path: 'src', type: 'dir', size: null },
      { path: 'src/a.ts', type: 'file', size: 2 },
      { path: 'src/deep', type: 'dir', size: null },
      { path: 'untracked.txt', type: 'file', size: 2 },
    ]);
  });

  it('lists under a directory, and every file matching a glob', () => {
    expect(list({ GS_DIR: 'src', GS_DEPTH: '1' })).toMatchObject({ entries: [{ path: 'src/a.ts' }, { path: 'src/deep', type: 'dir' }] });
    const g = list({ GS_SPEC: globSpec('*.ts') });
    expect(g.kind === 'ok' && g.entries.map((e) => e.path)).toEqual(['src/a.ts', 'src/deep/b.ts', 'src/deep/deeper/c.ts']);
    const under = list({ GS_SPEC: globSpec('*.ts', 'src/deep') });
    expect(under.kind === 'ok' && under.entries.map((e) => e.path)).toEqual(['src/deep/b.ts', 'src/deep/deeper/c.ts']);
  });

  it('refuses a missing directory, a file and a symlinked directory', () => {
    fs.symlinkSync('src', path.join(repo, 'srclink'));
    expect(list({ GS_DIR: 'nope' })).toEqual({ kind: 'bad_dir', reason: 'missing' });
    expect(list({ GS_DIR: 'a.txt' })).toEqual({ kind: 'bad_dir', reason: 'notdir' });
    expect(list({ GS_DIR: 'srclink' })).toEqual({ kind: 'bad_dir', reason: 'symlink' });
  });

  it('cuts at the cap and keeps whole records only', () => {
    const r = list({}, 60);
    expect(r).toMatchObject({ kind: 'ok', truncated: true });
    if (r.kind === 'ok') expect(r.entries.length).toBeGreaterThan(0);
  });
});

describe('search.sh', () => {
  const search = (env: Record<string, string>, max = 100) =>
    parseSearch(runScript('search', { GS_WORKDIR: repo, GS_MODE: 'F', GS_ICASE: '0', GS_SPEC: '', GS_MAX: String(max), GS_LINE_CAP: '1024', GS_CAP: String(CAP), ...env }), max, CAP);

  beforeEach(() => {
    commit({ 'src/a.ts': 'const x = foo(1);\nconst y = Foo.bar;\n', 'docs/readme.md': 'call foo(1) here\n', '.gitignore': 'ignored/\n' }, 'tree');
    w.write(repo, { 'untracked.ts': 'foo(1) too\n', 'ignored/x.ts': 'foo(1)\n' });
  });

  it('finds a fixed string with path and line, untracked files included, ignored ones not', () => {
    const r = search({ GS_PATTERN: 'foo(1)' });
    expect(r).toEqual({
      kind: 'ok',
      truncated: false,
      matches: [
        { path: 'docs/readme.md', line: 1, text: 'call foo(1) here' },
        { path: 'src/a.ts', line: 1, text: 'const x = foo(1);' },
        { path: 'untracked.ts', line: 1, text: 'foo(1) too' },
      ],
    });
  });

  it('takes an extended regular expression, ignore-case and a glob', () => {
    expect(search({ GS_PATTERN: 'const [xy]', GS_MODE: 'E', GS_SPEC: globSpec('*.ts') })).toMatchObject({ matches: [{ line: 1 }, { line: 2 }] });
    expect(search({ GS_PATTERN: 'foo.bar', GS_ICASE: '1', GS_MODE: 'E' })).toMatchObject({ matches: [{ path: 'src/a.ts', line: 2 }] });
    expect(search({ GS_PATTERN: 'foo', GS_SPEC: literalSpec('docs') })).toMatchObject({ matches: [{ path: 'docs/readme.md' }] });
  });

  it('stops at max results and says so', () => {
    expect(search({ GS_PATTERN: 'foo(1)' }, 2)).toMatchObject({ truncated: true, matches: [{}, {}] });
  });

  it('cuts a long line', () => {
    w.write(repo, { 'long.txt': `needle ${'z'.repeat(5000)}\n` });
    const r = search({ GS_PATTERN: 'needle' });
    expect(r.kind === 'ok' && r.matches[0].text.length).toBeLessThan(1024);
  });

  it('reports an invalid regular expression, and no match as an empty list', () => {
    expect(search({ GS_PATTERN: 'a(b', GS_MODE: 'E' })).toEqual({ kind: 'bad_pattern' });
    expect(search({ GS_PATTERN: 'absent-string' })).toEqual({ kind: 'ok', matches: [], truncated: false });
  });
});

describe('write-files.sh', () => {
  /** Stages a batch the way the service does and runs the script. */
  const apply = (writes: [string, string][], deletes: string[] = [], drop?: number) => {
    const stage = path.join(repo, '.git', `gs-write-${Math.random().toString(16).slice(2)}`);
    fs.mkdirSync(stage);
    fs.writeFileSync(path.join(stage, 'writes'), writes.map(([p]) => `${p}\0`).join(''));
    fs.writeFileSync(path.join(stage, 'deletes'), deletes.map((p) => `${p}\0`).join(''));
    writes.forEach(([, c], i) => i !== drop && fs.writeFileSync(path.join(stage, String(i)), c));
    const r = parseWriteFiles(runScript('write-files', { GS_WORKDIR: repo, GS_STAGE: stage }));
    expect(fs.existsSync(stage)).toBe(false);
    return r;
  };
  const read = (p: string) => fs.readFileSync(path.join(repo, p), 'utf8');
  const exists = (p: string) => fs.existsSync(path.join(repo, p));

  it('writes, overwrites (keeping the mode) and deletes in one batch', () => {
    fs.chmodSync(path.join(repo, 'a.txt'), 0o755);
    expect(apply([['a.txt', 'new a\n'], ['dir/sub/new.txt', 'n\n']], ['README'])).toEqual({ kind: 'ok' });
    expect(read('a.txt')).toBe('new a\n');
    expect(fs.statSync(path.join(repo, 'a.txt')).mode & 0o777).toBe(0o755);
    expect(read('dir/sub/new.txt')).toBe('n\n');
    expect(exists('README')).toBe(false);
  });

  it('changes nothing when one path is refused', () => {
    fs.mkdirSync(path.join(w.root, 'outside'));
    fs.symlinkSync(path.join(w.root, 'outside'), path.join(repo, 'out'));
    expect(apply([['a.txt', 'changed\n'], ['fresh.txt', 'f\n'], ['out/evil.txt', 'x\n']], ['README'])).toEqual({ kind: 'refused', reason: 'symlink', index: 2 });
    expect(apply([['a.txt', 'changed\n']], ['missing.txt'])).toEqual({ kind: 'refused', reason: 'missing', index: 1 });
    expect(apply([['a.txt/x', 'changed\n']])).toEqual({ kind: 'refused', reason: 'parent', index: 0 });
    fs.mkdirSync(path.join(repo, 'adir'));
    expect(apply([['adir', 'changed\n']])).toEqual({ kind: 'refused', reason: 'dir', index: 0 });
    expect(read('a.txt')).toBe('1\n2\n3\n');
    expect(exists('fresh.txt')).toBe(false);
    expect(exists('README')).toBe(true);
    expect(fs.readdirSync(path.join(w.root, 'outside'))).toEqual([]);
  });

  it('undoes every step when one fails midway', () => {
    const r = apply([['a.txt', 'changed\n'], ['new/dir/f.txt', 'f\n'], ['b.txt', 'never staged\n']], ['README'], 2);
    expect(r).toMatchObject({ kind: 'failed', step: 'write' });
    expect(read('a.txt')).toBe('1\n2\n3\n');
    expect(read('README')).toBe('hello\n');
    expect(exists('new')).toBe(false);
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });
});
