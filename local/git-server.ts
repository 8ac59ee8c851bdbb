// Smart-HTTP git remote for the local stack: `git http-backend` as CGI behind Node's http server, with
// HTTP Basic token auth. Serves every bare repo `<root>/<path>.git`; bodies are streamed both ways. Under
// `/api` it serves the GitHub pull request subset (local/github-pulls.ts, bearer auth) and, with a GitHub
// App configured, the app's REST subset, and accepts the installation tokens minted there. Tokens and
// Authorization headers are never logged.
import { spawn } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { createGitHubApi, type GitHubApi, type GitHubAppOptions } from './github-api.ts';
import { createPullsApi } from './github-pulls.ts';

export type { GitHubAppOptions } from './github-api.ts';
export { createBareRepo, DEMO_FILES, repoPath } from './seed.ts';

/** Options for startGitServer. */
export interface GitServerOptions {
  /** Directory holding the bare repos. */
  root: string;
  /** The Basic-auth password every request must carry. */
  token: string;
  /** Listen port on 127.0.0.1. Default: a free port. */
  port?: number;
  /** When set, the Basic-auth username must equal it; otherwise any username is accepted (like GitHub). */
  username?: string;
  /** A local GitHub App: its REST subset is served at `${url}/api`, and its minted tokens work as the password. */
  app?: GitHubAppOptions;
  log?: (s: string) => void;
}

/** A running git server. */
export interface GitServerHandle {
  /** Base URL, e.g. http://127.0.0.1:PORT; repos are at `${url}/<name>.git`. */
  url: string;
  port: number;
  /** The GitHub App side when `app` was given: API base URL, mint counter, revocation. */
  app: { apiUrl: string; readonly tokensMinted: number; revokeTokens(): void } | null;
  stop(): Promise<void>;
}

// Repo path segments (none starting with '.'), then an http-backend route: `..` never reaches git.
const ROUTE = /^\/((?:[A-Za-z0-9_-][A-Za-z0-9_.-]*\/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\.git)(\/(?:info\/refs|git-upload-pack|git-receive-pack|HEAD|objects\/(?:info\/[a-z-]+|[0-9a-f]{2}\/[0-9a-f]{38,62}|pack\/pack-[0-9a-f]{40,64}\.(?:pack|idx))))$/;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The Basic-auth username when the request carries the static token or an app token covering `repo`, else null. */
function authorize(header: string | undefined, token: Buffer, username: string | undefined, repo: string | null, api: GitHubApi | null): string | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return null;
  const user = decoded.slice(0, i);
  const pass = decoded.slice(i + 1);
  const okPass = timingSafeEqual(digest(pass), token) || (!!api && repo !== null && api.allows(pass, repo));
  const okUser = username === undefined || user === username;
  return okPass && okUser ? user || 'git' : null;
}

/** Starts the server on 127.0.0.1 and resolves once it listens. */
export async function startGitServer(opts: GitServerOptions): Promise<GitServerHandle> {
  if (!opts.token) throw new Error('git server needs a token');
  const log = opts.log ?? (() => {});
  const root = path.resolve(opts.root);
  const tokenDigest = digest(opts.token);
  const children = new Set<ReturnType<typeof spawn>>();
  let port = 0;
  const api = opts.app ? createGitHubApi(opts.app, root, () => `http://127.0.0.1:${port}`) : null;
  // Pull requests take the static token or an installation token of the repo as a bearer.
  const pulls = createPullsApi({ root, baseUrl: () => `http://127.0.0.1:${port}`, allows: (t, repo) => timingSafeEqual(digest(t), tokenDigest) || (!!api && api.allows(t, repo)) });

  const server = http.createServer((req, res) => {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://git');
    const done = (status: number) => log(`git-server ${req.method} ${url.pathname} ${status} ${Date.now() - started}ms`);
    const sub = url.pathname.slice(4);
    const served = url.pathname !== '/api' && !url.pathname.startsWith('/api/') ? null : pulls.handles(req.method ?? 'GET', sub) ? pulls.serve(req, res, sub) : api ? api.serve(req, res, sub) : null;
    if (served) {
      served.then(done, (e: Error) => {
        log(`git-server api failed: ${e.message}`);
        if (!res.headersSent) res.writeHead(500).end();
        done(500);
      });
      return;
    }
    let route: RegExpExecArray | null = null;
    try {
      route = ROUTE.exec(decodeURIComponent(url.pathname));
    } catch {
      // malformed percent-encoding: treated as not found
    }
    const user = authorize(req.headers.authorization, tokenDigest, opts.username, route ? route[1].slice(0, -4) : null, api);
    if (!user) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'content-type': 'text/plain' }).end('authentication required\n');
      return done(401);
    }
    if (!route || (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return done(404);
    }
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      // Pushes on, background gc off (no stray processes after stop), any repo owner accepted,
      // partial clones served (as GitHub does: --filter=blob:none, blobs fetched on demand).
      GIT_CONFIG_COUNT: '4',
      GIT_CONFIG_KEY_0: 'http.receivepack', GIT_CONFIG_VALUE_0: 'true',
      GIT_CONFIG_KEY_1: 'receive.autogc', GIT_CONFIG_VALUE_1: 'false',
      GIT_CONFIG_KEY_2: 'safe.directory', GIT_CONFIG_VALUE_2: '*',
      GIT_CONFIG_KEY_3: 'uploadpack.allowFilter', GIT_CONFIG_VALUE_3: 'true',
      REMOTE_USER: user,
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      PATH_INFO: `/${route[1]}${route[2]}`,
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
    };
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
    const proto = req.headers['git-protocol'];
    if (typeof proto === 'string') env.GIT_PROTOCOL = env.HTTP_GIT_PROTOCOL = proto;

    // Cast: wrangler's generated types make ProcessEnv require the Worker's vars.
    const child = spawn('git', ['http-backend'], { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.on('close', () => children.delete(child));
    child.on('error', (e) => log(`git-server spawn failed: ${e.message}`));
    child.stderr.on('data', (b: Buffer) => log(`git-server http-backend: ${b.toString().trimEnd()}`));
    child.stdin.on('error', () => {}); // backend may exit before reading the whole body
    req.pipe(child.stdin);
    res.on('close', () => {
      if (!res.writableFinished) child.kill('SIGKILL');
    });

    // CGI response: header lines, a blank line, then the body, which is streamed through.
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      let end = head.indexOf('\r\n\r\n');
      let sep = 4;
      if (end < 0) {
        end = head.indexOf('\n\n');
        sep = 2;
      }
      if (end < 0) return;
      child.stdout.off('data', onData);
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = parseInt(v, 10) || 200;
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + sep));
      child.stdout.pipe(res);
      done(status);
    };
    child.stdout.on('data', onData);
    child.on('close', (code) => {
      if (res.headersSent) return;
      res.writeHead(500, { 'content-type': 'text/plain' }).end('git http-backend failed\n');
      done(500);
      log(`git-server http-backend exited ${code} without a response`);
    });
  });
  server.keepAliveTimeout = 5000;
  server.maxHeadersCount = 100;
  server.listen({ port: opts.port ?? 0, host: '127.0.0.1', backlog: 1024 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  port = (server.address() as net.AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    app: api && {
      apiUrl: `http://127.0.0.1:${port}/api`,
      get tokensMinted() {
        return api.tokensMinted;
      },
      revokeTokens: () => api.revokeTokens(),
    },
    stop: async () => {
      for (const c of children) c.kill('SIGKILL');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
