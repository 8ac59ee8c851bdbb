// Checks of the workbench's inputs before anything reaches a sandbox: revisions, ranges, globs,
// diff refs and batch writes; the JSON budget of list answers; parser types equal to the contract's.
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as C from '../../src/contract-read.ts';
import type { CommitDetail, FileEntry, LogCommit, SearchMatch } from '../../src/git/read-results.ts';
import { assertDiffRef, assertRange, assertRevision, globSpec } from '../../src/git/revision.ts';
import { fitJson } from '../../src/lib/json-budget.ts';
import { planBatch } from '../../src/services/batch-plan.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('revisions and ranges', () => {
  it('accepts revision expressions', () => {
    for (const r of ['HEAD', 'main', 'origin/main', 'HEAD~2', 'v1.0^{commit}', 'a'.repeat(40), 'main@{1}']) expect(code(() => assertRevision(r)), r).toBe('ok');
  });

  it('refuses options, control characters, whitespace, ranges and oversize input', () => {
    for (const r of ['--all', '-n1', '--output=/tmp/x', 'a b', 'a\nb', 'a\tb', 'main..HEAD', '', 'x'.repeat(257)]) expect(code(() => assertRevision(r)), r).toBe('INVALID_REF');
  });

  it('accepts ranges whose sides are revisions', () => {
    for (const r of ['main..HEAD', 'main...HEAD', 'main..', '..HEAD', 'HEAD']) expect(code(() => assertRange(r)), r).toBe('ok');
    for (const r of ['..', '...', 'main..--all', '--all..main', '-x', 'a..b c']) expect(code(() => assertRange(r)), r).toBe('INVALID_REF');
  });

  it('takes a diff ref with head or index, a range with head only, never with base', () => {
    expect(code(() => assertDiffRef('main', 'head'))).toBe('ok');
    expect(code(() => assertDiffRef('main', 'index'))).toBe('ok');
    expect(code(() => assertDiffRef('main...HEAD', 'head'))).toBe('ok');
    expect(code(() => assertDiffRef('main...HEAD', 'index'))).toBe('BAD_REQUEST');
    expect(code(() => assertDiffRef('main', 'base'))).toBe('BAD_REQUEST');
    expect(code(() => assertDiffRef('--cached', 'head'))).toBe('INVALID_REF');
  });
});

describe('globs', () => {
  it('matches a bare name at any depth and keeps a directory literal', () => {
    expect(globSpec('*.ts')).toBe(':(glob)**/*.ts');
    expect(globSpec('src/**/*.ts')).toBe(':(glob)src/**/*.ts');
    expect(globSpec('*.ts', 'we[ir]d')).toBe(':(glob)we\\[ir\\]d/**/*.ts');
  });

  it('refuses pathspec magic, absolute paths, traversal and .git', () => {
    for (const g of [':(exclude)x', '/etc/*', '../*', 'a/../../b', '.git/*', 'a\\b', 'a\nb']) expect(code(() => globSpec(g)), g).toBe('BAD_REQUEST');
  });
});

describe('batch writes', () => {
  it('plans writes and deletes with normalised paths and decoded contents', () => {
    const p = planBatch({ files: [{ path: './a//b.txt', content: 'hé' }, { path: 'bin', content_base64: 'AAEC' }], delete: ['old.txt'] }, 1000);
    expect(p.writes.map((w) => [w.path, [...w.bytes]])).toEqual([['a/b.txt', [104, 195, 169]], ['bin', [0, 1, 2]]]);
    expect(p.deletes).toEqual(['old.txt']);
  });

  it('refuses a bad path, an ambiguous or undecodable entry, duplicates, a file-and-directory clash, an empty or oversize batch', () => {
    expect(code(() => planBatch({ files: [{ path: 'ok', content: '' }, { path: '.git/config', content: 'x' }] }, 1000))).toBe('INVALID_PATH');
    expect(code(() => planBatch({ files: [{ path: '../x', content: '' }] }, 1000))).toBe('INVALID_PATH');
    expect(code(() => planBatch({ files: [], delete: ['/etc/passwd'] }, 1000))).toBe('INVALID_PATH');
    expect(code(() => planBatch({ files: [{ path: 'a', content: 'x', content_base64: 'eA==' }] }, 1000))).toBe('BAD_REQUEST');
    expect(code(() => planBatch({ files: [{ path: 'a' }] }, 1000))).toBe('BAD_REQUEST');
    expect(code(() => planBatch({ files: [{ path: 'a', content_base64: '!!!' }] }, 1000))).toBe('BAD_REQUEST');
    expect(code(() => planBatch({ files: [{ path: 'a', content: '1' }, { path: './a', content: '2' }] }, 1000))).toBe('BAD_REQUEST');
    expect(code(() => planBatch({ files: [{ path: 'a', content: '1' }], delete: ['a'] }, 1000))).toBe('BAD_REQUEST');
    expect(code(() => planBatch({ files: [{ path: 'a/b', content: '1' }], delete: ['a'] }, 1000))).toBe('BAD_REQUEST');
    expect(code(() => planBatch({ files: [] }, 1000))).toBe('BAD_REQUEST');
    expect(code(() => planBatch({ files: [{ path: 'a', content: 'x'.repeat(11) }] }, 10))).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('the JSON budget of list answers', () => {
  it('keeps the leading items that fit and says when it cut', () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ path: `file-${i}` }));
    const one = JSON.stringify(items[0]).length + 1;
    expect(fitJson(items, one * 3)).toEqual({ items: items.slice(0, 3), cut: true });
    expect(fitJson(items, one * 10)).toEqual({ items, cut: false });
  });
});

describe('the workbench contract', () => {
  it("types the parsers' values exactly as the schemas describe them", () => {
    expectTypeOf<LogCommit>().toEqualTypeOf<C.LogCommit>();
    expectTypeOf<CommitDetail>().toEqualTypeOf<C.CommitDetail>();
    expectTypeOf<FileEntry>().toEqualTypeOf<C.FileEntry>();
    expectTypeOf<SearchMatch>().toEqualTypeOf<C.SearchMatch>();
  });
});
