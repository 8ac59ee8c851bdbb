// Builds filesystem `EntryInfo` messages (proto3 JSON, as envd/Go protojson emits them) from
// lstat/stat results: type/mode of the symlink target, Go FileMode.String() permissions, owner names.
import { readFileSync, type Stats } from 'node:fs';

/** `EntryInfo` wire shape. */
export interface EntryJson {
  name: string; type: string; path: string; size: string; mode: number; permissions: string;
  owner: string; group: string; modifiedTime: string; symlinkTarget?: string; metadata?: Record<string, string>;
}

/** Turns host uid/gid into the names the sandbox would show. */
export interface OwnerNames { user(uid: number): string; group(gid: number): string }

let hostNames: { users: Map<number, string>; groups: Map<number, string> } | undefined;

/** uid/gid → name from the host's /etc/passwd and /etc/group (read once). */
export function hostOwnerNames(): OwnerNames {
  if (!hostNames) {
    const parse = (file: string) => {
      const m = new Map<number, string>();
      try {
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          const f = line.split(':');
          if (f.length > 2) m.set(Number(f[2]), f[0]);
        }
      } catch { /* no such file */ }
      return m;
    };
    hostNames = { users: parse('/etc/passwd'), groups: parse('/etc/group') };
  }
  const n = hostNames;
  return { user: (uid) => n.users.get(uid) ?? String(uid), group: (gid) => n.groups.get(gid) ?? String(gid) };
}

/** Go's `FileMode.String()` for the types envd reports. */
function permissions(st: Stats, isLink: boolean): string {
  const t = isLink ? 'L' : st.isDirectory() ? 'd' : st.isFile() ? '-' : st.isFIFO() ? 'p' : st.isSocket() ? 'S' : st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'D' : '?';
  const rwx = 'rwxrwxrwx';
  let bits = '';
  for (let i = 0; i < 9; i++) bits += st.mode & (1 << (8 - i)) ? rwx[i] : '-';
  return t + bits;
}

function fileType(st: Stats): string {
  if (st.isDirectory()) return 'FILE_TYPE_DIRECTORY';
  if (st.isFile()) return 'FILE_TYPE_FILE';
  return 'FILE_TYPE_UNSPECIFIED';
}

/** What is known about one entry: its own lstat, and for a symlink its target's stat and path. */
export interface EntryFacts {
  name: string;
  path: string;
  lst: Stats;
  /** Target of a symlink; undefined for a dangling one (reported as FILE_TYPE_SYMLINK). */
  target?: { st: Stats; path: string };
  metadata?: Record<string, string>;
}

/** EntryInfo from gathered facts. Symlinks report the target's type/mode and the resolved target path. */
export function buildEntry(f: EntryFacts, names: OwnerNames): EntryJson {
  const isLink = f.lst.isSymbolicLink();
  const st = isLink && f.target ? f.target.st : f.lst;
  const e: EntryJson = {
    name: f.name,
    type: isLink ? (f.target ? fileType(f.target.st) : 'FILE_TYPE_SYMLINK') : fileType(f.lst),
    path: f.path,
    size: String(st.size),
    mode: st.mode & 0o777,
    permissions: permissions(st, isLink),
    owner: names.user(st.uid),
    group: names.group(st.gid),
    modifiedTime: st.mtime.toISOString(),
  };
  if (isLink && f.target) e.symlinkTarget = f.target.path;
  if (f.metadata && Object.keys(f.metadata).length > 0) e.metadata = f.metadata;
  return e;
}
