import { describe, expect, it } from 'vitest';
import { assertBranchName, assertRepoPath, hasNoControl, parseRepoUrl } from '../../src/git/validate.ts';

describe('branch names that git would read as something else', () => {
  it.each(['HEAD', 'FETCH_HEAD', 'ORIG_HEAD', 'MERGE_HEAD', 'refs/heads/main', 'refs/tags/v1', 'refs', '@', '@foo', 'foo@', 'a'.repeat(40).replace(/a/g, 'f'), '0123456789abcdef0123456789abcdef01234567'])(
    'rejects %j with INVALID_REF naming the field',
    (n) => {
      expect(() => assertBranchName(n, 'agent_branch')).toThrowError(expect.objectContaining({ code: 'INVALID_REF', details: { field: 'agent_branch' } }));
    },
  );
  it.each(['main', 'head', 'feature/HEAD-fix', 'agent/a-1/t', 'releases/v1', 'my@branch'])('accepts %j', (n) => {
    expect(assertBranchName(n)).toBe(n);
  });
  it('rejects every control character and never echoes it back', () => {
    for (let c = 0; c < 0x20; c++) {
      const name = `main${String.fromCharCode(c)}x`;
      try {
        assertBranchName(name);
        expect.unreachable(`accepted \\x${c.toString(16)}`);
      } catch (e) {
        expect((e as { code: string }).code).toBe('INVALID_REF');
        expect((e as Error).message).not.toMatch(/[\x00-\x1f]/);
      }
    }
  });
});

describe('control characters in string fields', () => {
  it('finds NUL, escape, DEL and line breaks; text fields allow newline and tab only', () => {
    for (const s of ['a\u0000b', 'a\u001bb', 'a\u007fb', 'a\nb', 'a\tb', 'a\rb']) expect(hasNoControl(s), JSON.stringify(s)).toBe(false);
    expect(hasNoControl('line one\n\tline two', true)).toBe(true);
    for (const s of ['a\u0000b', 'a\rb', 'a\u001bb', 'a\u007f']) expect(hasNoControl(s, true), JSON.stringify(s)).toBe(false);
    expect(hasNoControl('ünïcödé ✓ text')).toBe(true);
  });
  it('refuses a repo URL the URL parser would silently clean', () => {
    for (const u of ['https://github.com/a/b\n', 'https://git\thub.com/a/b', 'https://github.com/a/\u0000b']) {
      expect(() => parseRepoUrl(u)).toThrowError(expect.objectContaining({ code: 'BAD_REQUEST', details: { field: 'repo_url' } }));
    }
  });
  it('refuses paths with control characters without echoing them', () => {
    try {
      assertRepoPath('src/\u001b[31mred');
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('INVALID_PATH');
      expect((e as Error).message).not.toMatch(/\u001b/);
    }
  });
});
