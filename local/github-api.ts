// The GitHub REST subset a GitHub App needs, served offline by the local git server under `/api`: a
// repository's installation and installation access tokens, both behind the app's RS256 JWT. Owners map
// to paths: `<root>/<owner>/<name>.git` is owner/name, a root-level `<root>/<name>.git` is owner `local`.
// Pull requests, under the same `/api`, are local/github-pulls.ts.
import { createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import type http from 'node:http';
import { repoPath } from './seed.ts';

/** A local GitHub App: its id (the JWT's `iss`), its public key, and the lifetime of minted tokens. */
export interface GitHubAppOptions {
  id: string;
  /** SPKI or PKCS#1 PEM of the app's RSA public key; JWTs must verify against it. */
  publicKeyPem: string;
  /** Lifetime of installation tokens in seconds. Default 3600, as on GitHub. */
  tokenTtlS?: number;
}

/** The app side of the API as the git routes and tests see it. */
export interface GitHubApi {
  /** Serves one request whose path is below `/api` (`pathname` without that prefix). */
  serve(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<number>;
  /** Whether `token` is a minted, unexpired, unrevoked token that covers repo path `repo` (e.g. `demo`, `acme/app`). */
  allows(token: string, repo: string): boolean;
  /** How many installation tokens have been minted. */
  readonly tokensMinted: number;
  /** Revokes every minted token (as a credential rotation upstream would). */
  revokeTokens(): void;
}

/** The owner a root-level repository belongs to; `src/gateway/upstream-auth.ts` maps single-segment paths the same way. */
export const LOCAL_OWNER = 'local';

/** The owner/name of repo path `p` (`demo` → local/demo, `acme/app` → acme/app), or null for deeper paths. */
export function ownerName(p: string): { owner: string; name: string } | null {
  const parts = p.split('/');
  if (parts.length === 1) return { owner: LOCAL_OWNER, name: parts[0] };
  if (parts.length === 2 && parts[0] !== LOCAL_OWNER) return { owner: parts[0], name: parts[1] };
  return null;
}

/** The repo path (under the server root, without `.git`) of owner/name. */
export function pathOf(owner: string, name: string): string {
  return owner === LOCAL_OWNER ? name : `${owner}/${name}`;
}

interface Minted {
  owner: string;
  /** Repo names within the owner the token covers; null means all of them. */
  repos: Set<string> | null;
  expiresAt: number;
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const PERMISSIONS = { contents: 'write', metadata: 'read', pull_requests: 'write' };
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Creates the API for `app` over the bare repos in `root`; `baseUrl` is the server's own URL. */
export function createGitHubApi(app: GitHubAppOptions, root: string, baseUrl: () => string): GitHubApi {
  const publicKey = createPublicKey(app.publicKeyPem);
  const ttlMs = (app.tokenTtlS ?? 3600) * 1000;
  const installations = new Map<string, number>(); // owner → installation id, one per owner
  const repoIds = new Map<string, number>(); // repo path → repository id
  const tokens = new Map<string, Minted>(); // sha256(token) → grant
  let minted = 0;

  const installationOf = (owner: string) => {
    if (!installations.has(owner)) installations.set(owner, installations.size + 1);
    return installations.get(owner)!;
  };
  const repoIdOf = (p: string) => {
    if (!repoIds.has(p)) repoIds.set(p, 1000 + repoIds.size);
    return repoIds.get(p)!;
  };
  const exists = (owner: string, name: string) => SEGMENT.test(owner) && SEGMENT.test(name) && existsSync(repoPath(root, pathOf(owner, name)));

  async function serve(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<number> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
      return status;
    };
    const installation = /^\/repos\/([^/]+)\/([^/]+)\/installation$/.exec(pathname);
    const accessTokens = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(pathname);
    if (!(installation && req.method === 'GET') && !(accessTokens && req.method === 'POST')) {
      return send(404, { message: 'Not Found' });
    }
    if (!verifyAppJwt(req.headers.authorization, app.id, publicKey, Math.floor(Date.now() / 1000))) {
      req.resume();
      return send(401, { message: 'A JSON web token could not be decoded' });
    }
    if (installation) {
      const [, owner, name] = installation;
      if (!exists(owner, name)) return send(404, { message: 'Not Found' });
      const id = installationOf(owner);
      return send(200, {
        id,
        app_id: Number(app.id) || app.id,
        account: { login: owner, type: 'Organization' },
        repository_selection: 'all',
        access_tokens_url: `${baseUrl()}/api/app/installations/${id}/access_tokens`,
        permissions: PERMISSIONS,
      });
    }
    const id = Number(accessTokens![1]);
    const owner = [...installations].find(([, v]) => v === id)?.[0];
    if (!owner) return send(404, { message: 'Not Found' });
    let body: { repositories?: unknown; repository_ids?: unknown };
    try {
      body = await readJson(req);
    } catch {
      return send(400, { message: 'Problems parsing JSON' });
    }
    const names = Array.isArray(body.repositories) ? body.repositories : [];
    const ids = Array.isArray(body.repository_ids) ? body.repository_ids : [];
    const scoped = new Set<string>();
    for (const n of names) {
      if (typeof n !== 'string' || !exists(owner, n)) return send(422, { message: 'There is at least one repository that does not exist or is not accessible to the parent installation.' });
      scoped.add(n);
    }
    for (const i of ids) {
      const p = [...repoIds].find(([, v]) => v === i)?.[0];
      const on = p ? ownerName(p) : null;
      if (!on || on.owner !== owner) return send(422, { message: 'There is at least one repository that does not exist or is not accessible to the parent installation.' });
      scoped.add(on.name);
    }
    const token = `ghs_${randomBytes(27).toString('base64url')}`;
    // GitHub reports expiry to the second; the token dies at that same second.
    const expiresAt = Math.floor((Date.now() + ttlMs) / 1000) * 1000;
    for (const [k, t] of tokens) if (t.expiresAt <= Date.now()) tokens.delete(k);
    tokens.set(sha256(token), { owner, repos: scoped.size ? scoped : null, expiresAt });
    minted++;
    return send(201, {
      token,
      expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      permissions: PERMISSIONS,
      repository_selection: scoped.size ? 'selected' : 'all',
      ...(scoped.size && {
        repositories: [...scoped].map((n) => ({ id: repoIdOf(pathOf(owner, n)), name: n, full_name: `${owner}/${n}`, private: true })),
      }),
    });
  }

  return {
    serve,
    allows(token, repo) {
      const grant = tokens.get(sha256(token));
      const on = ownerName(repo);
      if (!grant || !on || grant.expiresAt <= Date.now()) return false;
      return grant.owner === on.owner && (!grant.repos || grant.repos.has(on.name));
    },
    get tokensMinted() {
      return minted;
    },
    revokeTokens() {
      tokens.clear();
    },
  };
}

/** Whether `header` is `Bearer <JWT>` signed RS256 by the app's key, issued by `appId`, and current. */
export function verifyAppJwt(header: string | undefined, appId: string, key: KeyObject, nowS: number): boolean {
  const m = /^Bearer\s+([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i.exec(header ?? '');
  if (!m) return false;
  let head: { alg?: unknown };
  let claims: { iss?: unknown; iat?: unknown; exp?: unknown };
  try {
    head = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(m[2], 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  if (head?.alg !== 'RS256') return false;
  if (!verify('RSA-SHA256', Buffer.from(`${m[1]}.${m[2]}`), key, Buffer.from(m[3], 'base64url'))) return false;
  const { iss, iat, exp } = claims;
  if (String(iss) !== appId || !Number.isInteger(iat) || !Number.isInteger(exp)) return false;
  const [issued, expires] = [iat as number, exp as number];
  // As GitHub: issued no later than a minute from now, not expired, valid for at most 10 minutes.
  return issued <= nowS + 60 && expires > nowS && expires - issued <= 600 && expires <= nowS + 660;
}

/** Reads a small JSON object body (an empty body is `{}`). */
export async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 65_536) throw new Error('body too large');
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  const v: unknown = text ? JSON.parse(text) : {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
  return v as Record<string, unknown>;
}
