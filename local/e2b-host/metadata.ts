// File metadata (`files.write(..., { metadata })`) stored like envd does, as `user.e2b.<key>`
// extended attributes. Node has no xattr calls, so one python3 helper per host sets and reads them
// through /proc/<host pid>/fd paths; without python3 or xattr support a per-sandbox JSON sidecar
// keyed by inode is used instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';

const HELPER = String.raw`
import json, os, sys
P = 'user.e2b.'
for line in sys.stdin:
    req = json.loads(line)
    out = {'id': req['id']}
    try:
        if req['op'] == 'set':
            for k, v in req['meta'].items():
                os.setxattr(req['path'], P + k, v.encode())
            out['ok'] = True
        else:
            res = []
            for p in req['paths']:
                m = {}
                try:
                    for n in os.listxattr(p, follow_symlinks=False):
                        if n.startswith(P):
                            m[n[len(P):]] = os.getxattr(p, n, follow_symlinks=False).decode('utf-8', 'replace')
                except OSError:
                    pass
                res.append(m)
            out['ok'] = True
            out['meta'] = res
    except OSError as e:
        out['ok'] = False
        out['error'] = os.strerror(e.errno) if e.errno else str(e)
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
`;

/** A path another process can use to reach a file this process holds open (fd, optional name). */
export function fdPath(fd: number, name = ''): string {
  return name ? `/proc/${process.pid}/fd/${fd}/${name}` : `/proc/${process.pid}/fd/${fd}`;
}

/** Where metadata lives: `xattr` (user.e2b.*) or `sidecar` (JSON next to the sandbox's dirs). */
export type MetadataBackend = 'xattr' | 'sidecar';

/** Host-wide xattr access through the python helper; falls back to sidecars once xattrs fail. */
export class MetadataStore {
  backend: MetadataBackend;
  private helper: ChildProcess | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, (r: { ok: boolean; meta?: Array<Record<string, string>>; error?: string }) => void>();
  private readonly log: (line: string) => void;

  constructor(python3: string | undefined, log: (line: string) => void) {
    this.log = log;
    this.backend = python3 ? 'xattr' : 'sidecar';
    if (python3) this.start(python3);
  }

  private start(python3: string): void {
    const h = spawn(python3, ['-c', HELPER], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.helper = h;
    h.on('error', () => this.fail('python3 helper did not start'));
    h.on('exit', () => { if (this.helper === h) this.fail('python3 helper exited'); });
    createInterface({ input: h.stdout! }).on('line', (line) => {
      let r: { id: number; ok: boolean; meta?: Array<Record<string, string>>; error?: string };
      try { r = JSON.parse(line); } catch { return; }
      this.waiting.get(r.id)?.(r);
      this.waiting.delete(r.id);
    });
    h.unref();
    (h.stdin as unknown as { unref?: () => void }).unref?.();
    (h.stdout as unknown as { unref?: () => void }).unref?.();
  }

  private fail(why: string): void {
    if (this.backend === 'xattr') this.log(`file metadata falls back to sidecar files: ${why}`);
    this.backend = 'sidecar';
    this.helper = undefined;
    for (const done of this.waiting.values()) done({ ok: false, error: why });
    this.waiting.clear();
  }

  private call(req: Record<string, unknown>): Promise<{ ok: boolean; meta?: Array<Record<string, string>>; error?: string }> {
    const h = this.helper;
    if (!h || !h.stdin || h.stdin.destroyed) return Promise.resolve({ ok: false, error: 'no helper' });
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      h.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Sets `user.e2b.*` on the file at `procPath`; false when xattrs are not available there. */
  async setXattrs(procPath: string, meta: Record<string, string>): Promise<boolean> {
    if (this.backend !== 'xattr') return false;
    const r = await this.call({ op: 'set', path: procPath, meta });
    if (!r.ok && /not supported|no helper|exited/i.test(r.error ?? '')) this.fail(r.error ?? 'xattrs unsupported');
    return r.ok;
  }

  /** Reads `user.e2b.*` of each path (empty maps where there is none). */
  async getXattrs(procPaths: string[]): Promise<Array<Record<string, string>>> {
    if (this.backend !== 'xattr' || procPaths.length === 0) return procPaths.map(() => ({}));
    const r = await this.call({ op: 'get', paths: procPaths });
    return r.ok && r.meta ? r.meta : procPaths.map(() => ({}));
  }

  /** Stops the helper. */
  close(): void {
    const h = this.helper;
    this.helper = undefined;
    h?.kill('SIGKILL');
  }
}

/** One sandbox's sidecar: metadata by inode, in `<sandbox dir>/metadata.json` (outside its mounts). */
export class MetadataSidecar {
  private readonly file: string;
  private map: Record<string, Record<string, string>> | undefined;

  constructor(dir: string) { this.file = path.join(dir, 'metadata.json'); }

  private load(): Record<string, Record<string, string>> {
    if (!this.map) {
      try { this.map = existsSync(this.file) ? JSON.parse(readFileSync(this.file, 'utf8')) : {}; } catch { this.map = {}; }
    }
    return this.map!;
  }

  async set(ino: number, meta: Record<string, string>): Promise<void> {
    this.load()[String(ino)] = meta;
    await writeFile(this.file, JSON.stringify(this.map));
  }

  get(ino: number): Record<string, string> {
    return this.load()[String(ino)] ?? {};
  }
}
