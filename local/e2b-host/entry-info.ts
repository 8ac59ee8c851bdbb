// Builds filesystem `EntryInfo` messages (proto3 JSON, as envd/Go protojson emits them) from
// lstat/stat results: type/mode of the symlink target, Go FileMode.String() permissions.
import { readFileSync, type Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** `EntryInfo` wire shape. */
export interface EntryJson {
  name: string; type: string; path: string; size: string; mode: number; permissions: string;
  owner: string; group: string; modifiedTime: string; symlinkTarget?: string;
}

let names: { users: Map<number, string>; groups: Map<number, string> } | undefined;

/** uid/gid → name maps, read once from /etc/passwd and /etc/group. */
function idNames() {
  if (names) return names;
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
  names = { users: parse('/etc/passwd'), groups: parse('/etc/group') };
  return names;
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

/**
 * EntryInfo for `abs`. Symlinks report the target's type/mode and the resolved target path;
 * a dangling symlink is reported as FILE_TYPE_SYMLINK.
 */
export async function entryInfo(abs: string, lst?: Stats): Promise<EntryJson> {
  const l = lst ?? (await lstat(abs));
  let st = l;
  let symlinkTarget: string | undefined;
  let type: string;
  if (l.isSymbolicLink()) {
    try {
      st = await stat(abs);
      symlinkTarget = await realpath(abs);
      type = fileType(st);
    } catch {
      type = 'FILE_TYPE_SYMLINK';
    }
  } else {
    type = fileType(l);
  }
  const { users, groups } = idNames();
  const e: EntryJson = {
    name: path.basename(abs),
    type,
    path: abs,
    size: String(st.size),
    mode: st.mode & 0o777,
    permissions: permissions(st, l.isSymbolicLink()),
    owner: users.get(st.uid) ?? String(st.uid),
    group: groups.get(st.gid) ?? String(st.gid),
    modifiedTime: st.mtime.toISOString(),
  };
  if (symlinkTarget !== undefined) e.symlinkTarget = symlinkTarget;
  return e;
}
