// Parsers for git's machine-readable output: status porcelain v2 (-z) and diff --numstat (-z).

/** Parsed working tree status. */
export interface GitStatus {
  branch: string | null;
  upstream: string | null;
  ahead: number;
  behind: number;
  staged: string[];
  modified: string[];
  untracked: string[];
  conflicted: string[];
  clean: boolean;
  /** The output was cut at the byte limit: the lists hold only what fitted. */
  truncated: boolean;
}

/** Drops the record a byte cap cut in half (everything after the last NUL). */
export function wholeRecords(out: string, truncated: boolean): string {
  return truncated ? out.slice(0, out.lastIndexOf('\0') + 1) : out;
}

/** Parses `git status --porcelain=v2 --branch -z`; `truncated` output loses its cut last record. */
export function parseStatusV2(out: string, truncated = false): GitStatus {
  const s: GitStatus = { branch: null, upstream: null, ahead: 0, behind: 0, staged: [], modified: [], untracked: [], conflicted: [], clean: true, truncated };
  const fields = wholeRecords(out, truncated).split('\0');
  for (let i = 0; i < fields.length; i++) {
    const line = fields[i];
    if (!line) continue;
    if (line.startsWith('# branch.head ')) {
      const h = line.slice(14);
      s.branch = h === '(detached)' ? null : h;
    } else if (line.startsWith('# branch.upstream ')) s.upstream = line.slice(18);
    else if (line.startsWith('# branch.ab ')) {
      const m = /\+(\d+) -(\d+)/.exec(line);
      if (m) {
        s.ahead = Number(m[1]);
        s.behind = Number(m[2]);
      }
    } else if (line.startsWith('1 ') || line.startsWith('2 ')) {
      const parts = line.split(' ');
      const xy = parts[1];
      const path = parts.slice(line.startsWith('1 ') ? 8 : 9).join(' ');
      if (line.startsWith('2 ')) i++; // the original path follows as its own field
      if (xy[0] !== '.') s.staged.push(path);
      if (xy[1] !== '.') s.modified.push(path);
    } else if (line.startsWith('u ')) s.conflicted.push(line.split(' ').slice(10).join(' '));
    else if (line.startsWith('? ')) s.untracked.push(line.slice(2));
  }
  s.clean = !truncated && !s.staged.length && !s.modified.length && !s.untracked.length && !s.conflicted.length;
  return s;
}

/** One file's line counts from numstat (binary files count as 0/0 with binary=true). */
export interface FileStat {
  path: string;
  additions: number;
  deletions: number;
  binary: boolean;
}

/** Parses `git diff --numstat -z`. */
export function parseNumstatZ(out: string): FileStat[] {
  const res: FileStat[] = [];
  const f = out.split('\0');
  for (let i = 0; i < f.length; i++) {
    const rec = f[i];
    if (!rec) continue;
    const m = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(rec);
    if (!m) continue;
    let path = m[3];
    if (path === '') {
      // rename: "<a>\t<d>\t\0<old>\0<new>"
      path = f[i + 2] ?? f[i + 1] ?? '';
      i += 2;
    }
    const binary = m[1] === '-';
    res.push({ path, additions: binary ? 0 : Number(m[1]), deletions: binary ? 0 : Number(m[2]), binary });
  }
  return res;
}

/** Reads `__GS_KEY=value` marker lines (defined with the script parsers, where new code imports it from). */
export { markers } from './script-results.ts';
