import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { chainScripts } from '../../src/git/assemble.ts';
import { splitChain, type ScriptRun } from '../../src/git/script-results.ts';

function bash(text: string): ScriptRun {
  const r = spawnSync('bash', ['-c', text], { encoding: 'utf8' });
  return { exitCode: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('chainScripts + splitChain', () => {
  it('runs the second script after the first succeeds and gives each its own output and exit code', () => {
    const first = 'echo "__GS_HEAD=one"\necho err1 >&2\nexit 0';
    const second = 'case x in x) echo "__GS_HEAD=two" ;; esac\necho err2 >&2\nexit 5';
    const [a, b] = splitChain(bash(chainScripts(first, second)));
    expect(a).toEqual({ exitCode: 0, stdout: '__GS_HEAD=one\n', stderr: 'err1\n' });
    expect(b).toEqual({ exitCode: 5, stdout: '__GS_HEAD=two\n', stderr: 'err2\n' });
  });

  it('does not run the second script when the first fails', () => {
    const [a, b] = splitChain(bash(chainScripts('echo "__GS_FAILED=add" >&2\nexit 1', 'touch /nonexistent-dir/should-not-run\necho ran')));
    expect(a).toEqual({ exitCode: 1, stdout: '', stderr: '__GS_FAILED=add\n' });
    expect(b).toBeNull();
  });

  it('treats a run without the chain mark as the first script\'s', () => {
    const r = { exitCode: 137, stdout: 'partial', stderr: 'killed' };
    expect(splitChain(r)).toEqual([r, null]);
  });
});
