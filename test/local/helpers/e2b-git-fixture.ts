// Minimal git smart-HTTP server for the e2b-host conformance tests: `git http-backend` run as a
// CGI behind node:http with Basic auth (any username, password must equal the token).
import { execFile, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A running fixture. `url` has no trailing slash; repos live at `${url}/<name>.git`. */
export interface GitFixture {
  url: string;
  root: string;
  /** Creates a bare repo `<name>.git` with one commit on `main` (README.md). */
  createRepo(name: string): Promise<string>;
  /** Runs git against a bare repo on the host (e.g. `log --format=%s main`). */
  git(repo: string, ...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

function authorized(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization;
  if (!h?.startsWith('Basic ')) return false;
  const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1) === token;
}

function cgi(root: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://git');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: String(req.headers['content-type'] ?? ''),
    REMOTE_USER: 'agent',
    REMOTE_ADDR: '127.0.0.1',
  };
  if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => {});
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) { res.write(chunk); return; }
    head = Buffer.concat([head, chunk]);
    const sep = head.indexOf('\r\n\r\n');
    const sepLen = sep >= 0 ? 4 : 2;
    const at = sep >= 0 ? sep : head.indexOf('\n\n');
    if (at < 0) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, at).toString('utf8').split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (k.toLowerCase() === 'status') status = parseInt(v, 10);
      else headers[k] = v;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(at + sepLen));
  });
  child.on('close', () => { if (!headersDone) res.writeHead(500); res.end(); });
}

/** Starts the fixture on a random loopback port. */
export async function startGitFixture(token: string): Promise<GitFixture> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'e2b-git-fixture-'));
  const server = createServer((req, res) => {
    if (!authorized(req, token)) {
      req.resume();
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    cgi(root, req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root };
  const git = async (repo: string, ...args: string[]) =>
    (await run('git', ['--git-dir', path.join(root, `${repo}.git`), ...args], { env: gitEnv })).stdout;
  return {
    url,
    root,
    git,
    async createRepo(name) {
      const bare = path.join(root, `${name}.git`);
      const work = path.join(root, `${name}-seed`);
      await run('git', ['init', '--bare', '--initial-branch', 'main', bare], { env: gitEnv });
      await run('git', ['init', '--initial-branch', 'main', work], { env: gitEnv });
      await writeFile(path.join(work, 'README.md'), `# ${name}\n`);
      const w = (...a: string[]) => run('git', ['-C', work, '-c', 'user.name=Seed', '-c', 'user.email=seed@example.com', ...a], { env: gitEnv });
      await w('add', '-A');
      await w('commit', '-m', 'initial commit');
      await w('push', bare, 'main');
      await rm(work, { recursive: true, force: true });
      return bare;
    },
    async stop() {
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
      await rm(root, { recursive: true, force: true });
    },
  };
}
