import { describe, expect, it } from 'vitest';
import { conflictPaths } from '../../src/git/script-results.ts';
import { markers, parseNumstatZ, parseStatusV2 } from '../../src/git/status.ts';

describe('parseStatusV2', () => {
  it('reads branch, upstream, ahead/behind and every entry kind', () => {
    const out = [
      '# branch.oid 1111111111111111111111111111111111111111',
      '# branch.head agent/a/t',
      '# branch.upstream origin/main',
      '# branch.ab +2 -3',
      '1 M. N... 100644 100644 100644 aaa bbb src/staged.js',
      '1 .M N... 100644 100644 100644 aaa bbb has space.txt',
      '1 MM N... 100644 100644 100644 aaa bbb both.txt',
      '2 R. N... 100644 100644 100644 aaa bbb R100 new name.txt',
      'old name.txt',
      'u UU N... 100644 100644 100644 100644 aaa bbb ccc conflict.txt',
      '? untracked dir/file.txt',
      '',
    ].join('\0');
    expect(parseStatusV2(out)).toEqual({
      branch: 'agent/a/t',
      upstream: 'origin/main',
      ahead: 2,
      behind: 3,
      staged: ['src/staged.js', 'both.txt', 'new name.txt'],
      modified: ['has space.txt', 'both.txt'],
      untracked: ['untracked dir/file.txt'],
      conflicted: ['conflict.txt'],
      clean: false,
      truncated: false,
    });
  });

  it('reports a clean detached tree', () => {
    expect(parseStatusV2('# branch.oid abc\0# branch.head (detached)\0')).toMatchObject({ branch: null, clean: true, ahead: 0 });
  });
});

describe('parseNumstatZ', () => {
  it('reads counts, binary files and renames', () => {
    const out = '3\t1\ta.txt\0-\t-\timg.png\0' + '1\t0\t\0old.txt\0new.txt\0';
    expect(parseNumstatZ(out)).toEqual([
      { path: 'a.txt', additions: 3, deletions: 1, binary: false },
      { path: 'img.png', additions: 0, deletions: 0, binary: true },
      { path: 'new.txt', additions: 1, deletions: 0, binary: false },
    ]);
  });
});

describe('script output', () => {
  it('extracts marker lines and conflicted paths', () => {
    const out = 'noise\n__GS_COMMIT=abc\n__GS_CONFLICTS_BEGIN\na.txt\nb c.txt\na.txt\n__GS_CONFLICTS_END\n';
    expect(markers(out)).toEqual({ COMMIT: 'abc' });
    expect(conflictPaths(out)).toEqual(['a.txt', 'b c.txt']);
    expect(conflictPaths('nothing')).toEqual([]);
  });
});
