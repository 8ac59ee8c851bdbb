import { describe, expect, it } from 'vitest';
import { assertBranchName, assertRepoPath, parseRepoUrl, repoAllowed } from '../../src/git/validate.ts';

describe('assertBranchName', () => {
  it.each(['main', 'agent/a-1/task_2', 'release/1.2', 'feat/x.y'])('accepts %s', (n) => {
    expect(assertBranchName(n)).toBe(n);
  });
  it.each(['', '-x', 'a..b', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', '/a', 'a/', 'a.', '.a', 'a/.b', 'x.lock', 'a//b', 'a@{1}', '@', 'a\u0001'])(
    'rejects %j with INVALID_REF',
    (n) => {
      expect(() => assertBranchName(n)).toThrowError(expect.objectContaining({ code: 'INVALID_REF' }));
    },
  );
});

describe('parseRepoUrl', () => {
  it('normalises host case and the .git suffix into a key', () => {
    expect(parseRepoUrl('https://GitHub.com/Acme/App')).toMatchObject({ url: 'https://github.com/Acme/App.git', host: 'github.com', key: 'github.com/Acme/App' });
    expect(parseRepoUrl('http://127.0.0.1:9000/demo.git').key).toBe('127.0.0.1:9000/demo');
  });
  it.each(['ftp://x/y', 'not a url', 'https://user:pw@github.com/a/b', 'https://github.com/a/b?x=1', 'https://github.com/', 'https://github.com/a/b c', 'file:///etc/passwd'])('rejects %s', (u) => {
    expect(() => parseRepoUrl(u)).toThrowError(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});

describe('repoAllowed', () => {
  const repo = parseRepoUrl('https://github.com/acme/app.git');
  it('matches exact repos, owner globs, host wildcards and "*"', () => {
    expect(repoAllowed(repo, 'github.com/acme/app')).toBe(true);
    expect(repoAllowed(repo, 'github.com/acme/*')).toBe(true);
    expect(repoAllowed(repo, 'github.com/*')).toBe(true);
    expect(repoAllowed(repo, 'https://github.com/acme/app.git')).toBe(true);
    expect(repoAllowed(repo, 'gitlab.com/*, github.com/acme/app')).toBe(true);
    expect(repoAllowed(repo, '*')).toBe(true);
  });
  it('refuses everything else, and everything when the list is empty', () => {
    expect(repoAllowed(repo, '')).toBe(false);
    expect(repoAllowed(repo, 'github.com/other/*')).toBe(false);
    expect(repoAllowed(repo, 'github.com/acme/ap')).toBe(false);
    expect(repoAllowed(parseRepoUrl('https://evilgithub.com/acme/app'), 'github.com/*')).toBe(false);
  });
});

describe('assertRepoPath', () => {
  it('normalises harmless forms', () => {
    expect(assertRepoPath('./src//a.ts')).toBe('src/a.ts');
    expect(assertRepoPath('dir with space/x')).toBe('dir with space/x');
  });
  it.each(['/etc/passwd', '../x', 'a/../../b', '.git/config', 'sub/.git/hooks/x', 'C:/x', 'a\\b', 'a\u0000b', '', '.'])('rejects %j', (p) => {
    expect(() => assertRepoPath(p)).toThrowError(expect.objectContaining({ code: 'INVALID_PATH' }));
  });
});
