import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUEUE_PREFIX } from '../../src/gateway/ref-rules.ts';
import { EXIT } from '../../src/git/script-results.ts';
import { SCRIPTS_DIR, assembled, scriptFile, scriptNames } from './script-harness.ts';

interface Header {
  env: string[];
  out: string[];
  exit: string[];
}

/** The `# env|out|exit NAME …` lines of a script's opening comment. */
function header(text: string): Header {
  const h: Header = { env: [], out: [], exit: [] };
  for (const line of text.split('\n')) {
    if (!line.startsWith('#')) break;
    const m = /^# (env|out|exit)\s+(\S+)/.exec(line);
    if (m) h[m[1] as keyof Header].push(m[2]);
  }
  return h;
}

/** The code of a script or function: comments and heredoc bodies (text written elsewhere) left out. */
function code(text: string): string {
  return text
    .replace(/<<'?(\w+)'?\n[\s\S]*?\n\1\n/g, '\n')
    .split('\n')
    .filter((l) => !l.trim().startsWith('#'))
    .join('\n');
}

/** lib.sh's functions by name, with their bodies. */
function libFunctions(): Map<string, string> {
  const fns = new Map<string, string>();
  const lib = scriptFile('lib');
  for (const m of lib.matchAll(/^(\w+)\(\) \{(.*)\}$|^(\w+)\(\) \{\n([\s\S]*?)^\}$/gm)) fns.set(m[1] ?? m[3], m[2] ?? m[4]);
  return fns;
}

/** A script's code with the bodies of the lib functions it calls (transitively) appended. */
function withLib(text: string): string {
  const fns = libFunctions();
  let all = code(text);
  const seen = new Set<string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, body] of fns) {
      if (!seen.has(name) && new RegExp(`(^|[\\s;|&({])${name}(\\s|$|;)`, 'm').test(all)) {
        seen.add(name);
        all += `\n${code(body)}`;
        grew = true;
      }
    }
  }
  return all;
}

const uniq = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** The GS_* vars a script reads (those it assigns itself excluded). */
function envRead(c: string): string[] {
  const assigned = new Set([...c.matchAll(/\b(GS_[A-Z_]+)=/g)].map((m) => m[1]));
  return uniq([...c.matchAll(/\$\{?(GS_[A-Z_]+)/g)].map((m) => m[1]).filter((v) => !assigned.has(v)));
}

/** The __GS_* markers a script prints. */
function markersPrinted(c: string): string[] {
  return uniq([...c.matchAll(/__GS_[A-Z_]+/g)].map((m) => m[0]));
}

/** The exit codes (names of the table) a script can end with, besides OK. */
function exitsUsed(c: string): string[] {
  const named = [...c.matchAll(/\$\{?(?:2:-\$)?EXIT_([A-Z_]+)/g)].map((m) => m[1]);
  const bareFail = [...c.matchAll(/\bfail [a-z_-]+\s*(?:$|;|\))/gm)].length > 0 ? ['FAILED'] : [];
  return uniq([...named, ...bareFail].filter((x) => x !== 'OK'));
}

describe('the exit-code table', () => {
  it('is the same in lib.sh and in EXIT', () => {
    const lib = scriptFile('lib');
    const table = Object.fromEntries([...lib.matchAll(/^\s*EXIT_([A-Z_]+)=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
    expect(table).toEqual(EXIT);
  });

  it('names the queue-ref prefix the gateway enforces', () => {
    expect(/^QUEUE_PREFIX=(\S+)$/m.exec(scriptFile('lib'))?.[1]).toBe(QUEUE_PREFIX);
  });

  it('uses no numeric exit code outside the table', () => {
    for (const name of scriptNames()) expect(code(scriptFile(name)), name).not.toMatch(/\bexit [0-9]/);
  });
});

describe.each(scriptNames())('%s.sh header', (name) => {
  const text = scriptFile(name);
  const h = header(text);
  const c = withLib(text);

  it('declares exactly the GS_* vars the script reads', () => {
    expect(uniq(h.env)).toEqual(envRead(c));
  });

  it('declares exactly the __GS_* markers the script prints', () => {
    expect(uniq(h.out)).toEqual(markersPrinted(c));
  });

  it('declares OK and exactly the exit codes the script can end with, all from the table', () => {
    expect(h.exit).toContain('OK');
    for (const e of h.exit) expect(Object.keys(EXIT), e).toContain(e);
    expect(uniq(h.exit.filter((e) => e !== 'OK'))).toEqual(exitsUsed(c));
  });
});

const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;

// CI installs shellcheck (.ci/run), so there the check always runs; elsewhere it needs the package.
describe.skipIf(!shellcheck && !process.env.CI)('shellcheck', () => {
  it('finds nothing in any .sh file', () => {
    const files = [...scriptNames(), 'lib'].map((n) => path.join(SCRIPTS_DIR, `${n}.sh`));
    const r = spawnSync('shellcheck', ['-s', 'bash', ...files], { encoding: 'utf8' });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(scriptNames())('finds nothing in %s.sh as it runs (lib.sh prepended)', (name) => {
    const r = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: assembled(name), encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
