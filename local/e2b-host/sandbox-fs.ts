// The file API's view of one sandbox: sandbox paths (`/home/user/…`, `/tmp/…`) map onto the
// sandbox's host directories and every reported path is a sandbox path. Paths are walked one
// component at a time through open directory fds with O_NOFOLLOW, and symlinks are resolved in the
// sandbox's namespace, so a sandbox process swapping a directory for a symlink cannot steer the
// host into its own files. Anything outside the mounts fails like an unwritable path in envd.
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { buildEntry, type EntryJson, type OwnerNames } from './entry-info.ts';
import { fdPath, type MetadataSidecar, type MetadataStore } from './metadata.ts';

const { O_RDONLY, O_WRONLY, O_CREAT, O_TRUNC, O_DIRECTORY, O_NOFOLLOW } = constants;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const MAX_HOPS = 40;

/** A sandbox directory backed by a host directory. */
export interface Mount { at: string; host: string }

/** Host uid/gid that new files and directories get, or undefined to keep the host's. */
export type Owner = { uid: number; gid: number } | undefined;

/** An fs error with a Node errno code and a Go-style message (`open /etc/x: permission denied`). */
export function fsError(code: string, op: string, p: string): NodeJS.ErrnoException {
  const text: Record<string, string> = {
    EACCES: 'permission denied', ENOENT: 'no such file or directory', ENOTDIR: 'not a directory',
    EISDIR: 'is a directory', EEXIST: 'file exists', ELOOP: 'too many levels of symbolic links',
  };
  const e = new Error(`${op} ${p}: ${text[code] ?? code.toLowerCase()}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** A resolved location: the open directory holding it and its last name ('' = that directory). */
class Location {
  readonly dir: FileHandle;
  readonly name: string;
  /** The sandbox path of the location (symlinks in its parents resolved). */
  readonly spath: string;
  constructor(dir: FileHandle, name: string, spath: string) { this.dir = dir; this.name = name; this.spath = spath; }
  /** A host path for this location that the kernel resolves from the held directory fd. */
  get host(): string { return this.name ? `/proc/self/fd/${this.dir.fd}/${this.name}` : `/proc/self/fd/${this.dir.fd}`; }
  get procPath(): string { return fdPath(this.dir.fd, this.name); }
  /** lstat of the location ('' is the held directory itself, whose /proc link must not be lstat'ed). */
  lstat(): Promise<Stats> { return this.name ? lstat(this.host) : this.dir.stat(); }
  /** Opens the location as a directory without following a final symlink. */
  openDir(): Promise<FileHandle> { return open(this.host, this.name ? DIR_FLAGS : O_RDONLY | O_DIRECTORY); }
  close(): Promise<void> { return this.dir.close().catch(() => {}); }
}

async function using<T>(loc: Location, fn: (l: Location) => Promise<T>): Promise<T> {
  try { return await fn(loc); } finally { await loc.close(); }
}

const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

/** File operations of one sandbox, in sandbox paths. */
export class SandboxFs {
  readonly mounts: Mount[];
  private readonly names: OwnerNames;
  private readonly meta: MetadataStore;
  private readonly sidecar: MetadataSidecar;

  constructor(mounts: Mount[], names: OwnerNames, meta: MetadataStore, sidecar: MetadataSidecar) {
    this.mounts = [...mounts].sort((a, b) => b.at.length - a.at.length);
    this.names = names;
    this.meta = meta;
    this.sidecar = sidecar;
  }

  private mountOf(p: string): Mount | undefined {
    return this.mounts.find((m) => p === m.at || p.startsWith(m.at === '/' ? '/' : `${m.at}/`));
  }

  /** True when `p` (absolute, normalised) is a mount point itself. */
  isMountRoot(p: string): boolean { return this.mounts.some((m) => m.at === p); }

  /**
   * Resolves an absolute sandbox path. `follow` also resolves a final symlink; `create` makes
   * missing parent directories (owned by it). The final component need not exist.
   */
  private async resolve(input: string, follow: boolean, create?: { owner: Owner }): Promise<Location> {
    let p = path.posix.normalize(input);
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      const m = this.mountOf(p);
      if (!m) throw fsError('EACCES', 'open', p);
      const rest = p === m.at ? [] : p.slice(m.at.length).split('/').filter(Boolean);
      let dir = await open(m.host, DIR_FLAGS);
      let cur = m.at;
      let next: string | undefined;
      try {
        for (let i = 0; i < rest.length && next === undefined; i++) {
          const name = rest[i];
          const last = i === rest.length - 1;
          const child = path.posix.join(cur, name);
          if (last && !follow) return new Location(dir, name, child);
          const at = `/proc/self/fd/${dir.fd}/${name}`;
          let st: Stats | null = await lstat(at).catch((e) => { if (errnoOf(e) === 'ENOENT') return null; throw e; });
          if (st === null) {
            if (last) return new Location(dir, name, child);
            if (!create) throw fsError('ENOENT', 'stat', child);
            await mkdir(at, 0o755).catch((e) => { if (errnoOf(e) !== 'EEXIST') throw e; });
            const made = await open(at, DIR_FLAGS);
            if (create.owner) await made.chown(create.owner.uid, create.owner.gid);
            await made.close();
            st = await lstat(at);
          }
          if (st.isSymbolicLink()) {
            next = path.posix.resolve(cur, await readlink(at), ...rest.slice(i + 1));
            break;
          }
          if (last) return new Location(dir, name, child);
          if (!st.isDirectory()) throw fsError('ENOTDIR', 'stat', child);
          // O_NOFOLLOW|O_DIRECTORY: a component swapped for a symlink since the lstat fails here.
          const sub = await open(at, DIR_FLAGS);
          await dir.close();
          dir = sub;
          cur = child;
        }
        if (next === undefined) return new Location(dir, '', cur);
      } catch (err) {
        await dir.close().catch(() => {});
        throw err;
      }
      await dir.close();
      p = next;
    }
    throw fsError('ELOOP', 'stat', input);
  }

  /** Facts about one entry at `loc` (not followed); null when it does not exist. */
  private async facts(loc: Location): Promise<{ lst: Stats; target?: { st: Stats; path: string } } | null> {
    const lst = await loc.lstat().catch((e) => { if (errnoOf(e) === 'ENOENT') return null; throw e; });
    if (!lst) return null;
    if (!lst.isSymbolicLink()) return { lst };
    try {
      const t = await this.resolve(loc.spath, true);
      return await using(t, async (tl) => ({ lst, target: { st: await stat(tl.host), path: tl.spath } }));
    } catch {
      return { lst };
    }
  }

  private async metadataOf(loc: Location, st: Stats): Promise<Record<string, string>> {
    if (this.meta.backend === 'xattr') return (await this.meta.getXattrs([loc.procPath]))[0] ?? {};
    return this.sidecar.get(st.ino);
  }

  /** EntryInfo of `p` (a symlink reports its target); ENOENT when missing. */
  async entry(p: string): Promise<EntryJson> {
    return using(await this.resolve(p, false), async (loc) => {
      const f = await this.facts(loc);
      if (!f) throw fsError('ENOENT', 'stat', p);
      const metadata = f.lst.isFile() ? await this.metadataOf(loc, f.lst) : undefined;
      return buildEntry({ name: path.posix.basename(loc.spath), path: loc.spath, ...f, metadata }, this.names);
    });
  }

  /** Opens a regular file for reading; EISDIR for a directory. */
  async openRead(p: string): Promise<{ fh: FileHandle; size: number }> {
    return using(await this.resolve(p, true), async (loc) => {
      if (!loc.name) throw fsError('EISDIR', 'open', p);
      const fh = await open(loc.host, O_RDONLY | O_NOFOLLOW).catch((e) => { throw errnoOf(e) === 'ELOOP' ? fsError('ELOOP', 'open', p) : e; });
      const st = await fh.stat();
      if (st.isDirectory()) { await fh.close(); throw fsError('EISDIR', 'open', p); }
      return { fh, size: st.size };
    });
  }

  /**
   * Writes a file (parents created), owned by `owner`, with optional metadata; returns its
   * sandbox path. A directory target is EISDIR.
   */
  async write(p: string, data: Buffer | Readable, owner: Owner, metadata?: Record<string, string>): Promise<string> {
    return using(await this.resolve(p, true, { owner }), async (loc) => {
      const st = await stat(loc.host).catch(() => null);
      if (!loc.name || st?.isDirectory()) throw fsError('EISDIR', 'open', p);
      const fh = await open(loc.host, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o644);
      try {
        if (owner) await fh.chown(owner.uid, owner.gid);
        if (Buffer.isBuffer(data)) await fh.writeFile(data);
        else for await (const chunk of data) await fh.write(chunk as Buffer);
        if (metadata && Object.keys(metadata).length > 0) {
          const ok = await this.meta.setXattrs(fdPath(fh.fd), metadata);
          if (!ok) await this.sidecar.set((await fh.stat()).ino, metadata);
        }
      } finally {
        await fh.close();
      }
      return loc.spath;
    });
  }

  /** Creates a directory (and parents); EEXIST when it exists as a directory, ENOTDIR when as a file. */
  async makeDir(p: string, owner: Owner): Promise<EntryJson> {
    const spath = await using(await this.resolve(p, true, { owner }), async (loc) => {
      const st = await stat(loc.host).catch(() => null);
      if (!loc.name || st?.isDirectory()) throw fsError('EEXIST', 'mkdir', p);
      if (st) throw fsError('ENOTDIR', 'mkdir', p);
      await mkdir(loc.host, 0o755);
      const made = await open(loc.host, DIR_FLAGS);
      if (owner) await made.chown(owner.uid, owner.gid);
      await made.close();
      return loc.spath;
    });
    return this.entry(spath);
  }

  /** Moves `from` to `to` (the destination's parents created); ENOENT when `from` is missing. */
  async move(from: string, to: string, owner: Owner): Promise<EntryJson> {
    const spath = await using(await this.resolve(from, false), async (src) => {
      if (!src.name) throw fsError('EACCES', 'rename', from);
      await src.lstat().catch((e) => { throw errnoOf(e) === 'ENOENT' ? fsError('ENOENT', 'rename', from) : e; });
      return using(await this.resolve(to, false, { owner }), async (dst) => {
        if (!dst.name) throw fsError('EACCES', 'rename', to);
        await rename(src.host, dst.host);
        return dst.spath;
      });
    });
    return this.entry(spath);
  }

  /** Removes a file or a whole tree (`rm -rf`); a missing path is success; mount roots are refused. */
  async remove(p: string): Promise<void> {
    await using(await this.resolve(p, false), async (loc) => {
      if (!loc.name) throw fsError('EACCES', 'remove', p);
      const st = await lstat(loc.host).catch((e) => { if (errnoOf(e) === 'ENOENT') return null; throw e; });
      if (!st) return;
      if (st.isDirectory()) await removeTree(loc.host);
      else await unlink(loc.host);
    });
  }

  /** Entries below directory `p` up to `depth` levels, in lexical walk order, without the root. */
  async list(p: string, depth: number): Promise<EntryJson[]> {
    return using(await this.resolve(p, true), async (loc) => {
      const root = await loc.openDir().catch((e) => {
        throw errnoOf(e) === 'ENOTDIR' || errnoOf(e) === 'ELOOP' ? fsError('ENOTDIR', 'readdir', p) : e;
      });
      const out: EntryJson[] = [];
      const walk = async (dir: FileHandle, spath: string, level: number): Promise<void> => {
        const names = (await readdir(`/proc/self/fd/${dir.fd}`)).sort();
        const metas = this.meta.backend === 'xattr' ? await this.meta.getXattrs(names.map((n) => fdPath(dir.fd, n))) : [];
        for (let i = 0; i < names.length; i++) {
          const child = new Location(dir, names[i], path.posix.join(spath, names[i]));
          const f = await this.facts(child).catch(() => null);
          if (!f) continue;
          const metadata = f.lst.isFile() ? (metas[i] ?? this.sidecar.get(f.lst.ino)) : undefined;
          out.push(buildEntry({ name: names[i], path: child.spath, ...f, metadata }, this.names));
          if (f.lst.isDirectory() && level < depth) {
            const sub = await open(child.host, DIR_FLAGS).catch(() => null);
            if (sub) { try { await walk(sub, child.spath, level + 1); } finally { await sub.close(); } }
          }
        }
      };
      try { await walk(root, loc.spath, 1); } finally { await root.close(); }
      return out;
    });
  }

  /** The host directory behind sandbox directory `p` (for watching); ENOTDIR when not a directory. */
  async hostDir(p: string): Promise<{ host: string; spath: string }> {
    return using(await this.resolve(p, true), async (loc) => {
      const d = await loc.openDir().catch((e) => {
        throw errnoOf(e) === 'ENOTDIR' || errnoOf(e) === 'ELOOP' ? fsError('ENOTDIR', 'watch', p) : e;
      });
      try { return { host: await readlink(`/proc/self/fd/${d.fd}`), spath: loc.spath }; } finally { await d.close(); }
    });
  }

  /** True when `p` is an existing directory (for a process's cwd). */
  async isDir(p: string): Promise<boolean> {
    try {
      return await using(await this.resolve(p, true), async (loc) => (await stat(loc.host)).isDirectory());
    } catch {
      return false;
    }
  }
}

/** Deletes a directory tree through fds (no path is re-walked, so no symlink is ever followed). */
async function removeTree(dirPath: string): Promise<void> {
  const dir = await open(dirPath, DIR_FLAGS);
  try {
    for (const name of await readdir(`/proc/self/fd/${dir.fd}`)) {
      const at = `/proc/self/fd/${dir.fd}/${name}`;
      const st = await lstat(at).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) await removeTree(at);
      else await unlink(at).catch((e) => { if (errnoOf(e) !== 'ENOENT') throw e; });
    }
  } finally {
    await dir.close();
  }
  await rmdir(dirPath).catch((e) => { if (errnoOf(e) !== 'ENOENT') throw e; });
}
