// Upstream credentials for the git gateway: a GitHub App installation token per repository (minted
// with @octokit/auth-app and cached per isolate), or the static GIT_TOKEN. Both become a Basic header
// for git, or go bare to the GitHub API client (src/github/client.ts) as a bearer; no credential or
// key material ever appears in an error message.
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { redact } from '../lib/redact.ts';
import type { RepoUrl } from '../git/validate.ts';

/** Where the gateway gets the upstream Authorization header. */
export interface UpstreamAuth {
  /** The Authorization header value for git requests to `repo` upstream. */
  authorization(repo: RepoUrl): Promise<string>;
  /** The bare upstream token for `repo` (the same credential), for GitHub API calls as a bearer. */
  token(repo: RepoUrl): Promise<string>;
  /** Drops the cached credential for repo's owner/name (call once after an upstream 401, then retry). */
  invalidate(repo: RepoUrl): void;
  /** 'app' when GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY are both set, else 'token'. */
  readonly kind: 'token' | 'app';
}

/** Owner given to a repository whose URL path has one segment (`host/name.git`), e.g. on the local git server. */
export const LOCAL_OWNER = 'local';

/** The GitHub owner and name of `repo`: path `owner/name` maps as is, a single segment `name` to owner `local`. */
export function githubRepo(repo: RepoUrl): { owner: string; name: string } {
  const parts = repo.path.split('/');
  if (parts.length === 1) return { owner: LOCAL_OWNER, name: parts[0] };
  if (parts.length === 2) return { owner: parts[0], name: parts[1] };
  throw new AppError('REPO_NOT_ALLOWED', `GitHub App credentials serve owner/name repositories only, not ${repo.key}`);
}

/** The upstream credential source for a config: the GitHub App when configured, else GIT_TOKEN. */
export function upstreamAuth(cfg: Config): UpstreamAuth {
  if (cfg.GITHUB_APP_ID && cfg.GITHUB_APP_PRIVATE_KEY) return appAuth(cfg);
  const token = () => {
    if (!cfg.GIT_TOKEN) {
      const half = cfg.GITHUB_APP_ID ? 'GITHUB_APP_PRIVATE_KEY is missing' : cfg.GITHUB_APP_PRIVATE_KEY ? 'GITHUB_APP_ID is missing' : 'neither is set';
      throw new AppError('PROVIDER_ERROR', `no upstream git credential is configured: set GIT_TOKEN, or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (${half})`);
    }
    return cfg.GIT_TOKEN;
  };
  return {
    kind: 'token',
    async authorization() {
      return basic(cfg.GIT_USERNAME, token());
    },
    async token() {
      return token();
    },
    invalidate() {},
  };
}

type CreateAppAuth = typeof import('@octokit/auth-app').createAppAuth;
type Request = typeof import('@octokit/request').request;

/** One configured GitHub App in this isolate: its octokit client (built once) and its token slots per repo. */
interface AppState {
  client: Promise<{ auth: ReturnType<CreateAppAuth>; request: Request }>;
  tokens: Map<string, Slot>;
}

/** A repo's token: the minted one as plain data, and the mint in flight that concurrent callers join. */
interface Slot {
  minted?: Minted;
  pending?: Promise<Minted>;
  startedAt: number;
}

interface Minted {
  header: string;
  token: string;
  /** Epoch ms after which the token is minted anew: 5 minutes (at most half its lifetime) before expiry. */
  refreshAt: number;
}

// Per isolate. Keyed by API URL + app id + key text (held in memory only), so two configs never share tokens.
const apps = new Map<string, AppState>();
const MAX_TOKENS_PER_APP = 1000;
const REFRESH_MARGIN_MS = 5 * 60_000;
// A mint in flight for longer than this is not joined: the request that started it may have been
// cancelled, and in workerd its I/O then never settles.
const PENDING_MAX_MS = 30_000;

function appAuth(cfg: Config): UpstreamAuth {
  const appKey = JSON.stringify([cfg.GITHUB_API_URL, cfg.GITHUB_APP_ID, cfg.GITHUB_APP_PRIVATE_KEY]);
  const state = (): AppState => {
    let s = apps.get(appKey);
    if (!s) {
      const created: AppState = { client: createClient(cfg), tokens: new Map() };
      // A key that does not parse is not remembered: the next call reports it again.
      created.client.catch(() => apps.get(appKey) === created && apps.delete(appKey));
      apps.set(appKey, (s = created));
    }
    return s;
  };
  const tokenKey = (repo: RepoUrl) => {
    const { owner, name } = githubRepo(repo);
    return `${owner}/${name}`.toLowerCase();
  };
  const minted = async (repo: RepoUrl): Promise<Minted> => {
    const key = tokenKey(repo);
    const { tokens, client } = state();
    const now = Date.now();
    const slot = tokens.get(key);
    if (slot?.minted && now < slot.minted.refreshAt) return slot.minted;
    if (slot?.pending && now - slot.startedAt < PENDING_MAX_MS) return slot.pending;
    if (!slot && tokens.size >= MAX_TOKENS_PER_APP) tokens.delete(tokens.keys().next().value!);
    const fresh: Slot = { startedAt: now };
    const pending = client
      .then((c) => mint(cfg, c.auth, c.request, githubRepo(repo)))
      .then(
        (m) => {
          if (tokens.get(key) === fresh) fresh.minted = m;
          fresh.pending = undefined;
          return m;
        },
        (e: unknown) => {
          if (tokens.get(key) === fresh) tokens.delete(key);
          throw e;
        },
      );
    fresh.pending = pending;
    tokens.set(key, fresh);
    return pending;
  };
  return {
    kind: 'app',
    async authorization(repo) {
      return (await minted(repo)).header;
    },
    async token(repo) {
      return (await minted(repo)).token;
    },
    invalidate(repo) {
      apps.get(appKey)?.tokens.delete(tokenKey(repo));
    },
  };
}

async function createClient(cfg: Config): Promise<{ auth: ReturnType<CreateAppAuth>; request: Request }> {
  const privateKey = pkcs8Pem(cfg.GITHUB_APP_PRIVATE_KEY);
  // Loaded on first use so a GIT_TOKEN deployment never evaluates the GitHub libraries.
  const [{ createAppAuth }, { request: baseRequest }] = await Promise.all([import('@octokit/auth-app'), import('@octokit/request')]);
  const request = baseRequest.defaults({ baseUrl: cfg.GITHUB_API_URL.replace(/\/+$/, '') });
  const auth = createAppAuth({ appId: cfg.GITHUB_APP_ID, privateKey, request, log: { warn: () => {} } });
  return { auth, request };
}

/** Looks up the app's installation for owner/name and mints a token scoped to that one repository. */
async function mint(cfg: Config, auth: ReturnType<CreateAppAuth>, request: Request, repo: { owner: string; name: string }): Promise<Minted> {
  const full = `${repo.owner}/${repo.name}`;
  let jwt: string;
  try {
    jwt = (await auth({ type: 'app' })).token;
  } catch (e) {
    throw new AppError('PROVIDER_ERROR', 'GITHUB_APP_PRIVATE_KEY could not sign the GitHub App JWT (an RSA key is required)', { internal: detail(cfg, e) });
  }
  let installationId: number;
  try {
    const res = await request('GET /repos/{owner}/{repo}/installation', { owner: repo.owner, repo: repo.name, headers: { authorization: `bearer ${jwt}` } });
    installationId = res.data.id;
  } catch (e) {
    throw apiError(cfg, e, `find the GitHub App installation for ${full}`);
  }
  try {
    // refresh: this module decides when to mint; octokit's own cache would keep a token for 59 minutes.
    const t = await auth({ type: 'installation', installationId, repositoryNames: [repo.name], refresh: true });
    const now = Date.now();
    const expiresAt = Date.parse(t.expiresAt);
    const lifetime = Number.isFinite(expiresAt) ? Math.max(0, expiresAt - now) : 0;
    return { header: basic('x-access-token', t.token), token: t.token, refreshAt: now + lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 2) };
  } catch (e) {
    throw apiError(cfg, e, `mint an installation token for ${full}`);
  }
}

/** An AppError for a failed GitHub API step; the public message has the status only, the detail is redacted. */
function apiError(cfg: Config, e: unknown, step: string): AppError {
  if (e instanceof AppError) return e;
  const status = typeof (e as { status?: unknown })?.status === 'number' ? (e as { status: number }).status : 0;
  const why =
    status === 404 ? 'the app is not installed on that repository (404)'
    : status === 401 ? 'the GitHub API refused the app credential: check GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (401)'
    : status === 422 ? 'the installation does not cover that repository (422)'
    : status ? `the GitHub API answered ${status}`
    : 'the GitHub API could not be reached';
  return new AppError('PROVIDER_ERROR', `could not ${step}: ${why}`, { internal: detail(cfg, e) });
}

/** Internal detail of a caught error, redacted (the cause itself is not kept: it may carry request data). */
function detail(cfg: Config, e: unknown): string {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return redact(text.slice(0, 500), [cfg.GITHUB_APP_PRIVATE_KEY, cfg.GIT_TOKEN]);
}

/** `Basic base64(user:password)` over the UTF-8 bytes. */
function basic(user: string, password: string): string {
  return `Basic ${toBase64(new TextEncoder().encode(`${user}:${password}`))}`;
}

/** A PEM RSA private key (PKCS#1 or PKCS#8; escaped `\n`, CRLF or one line) as a normalised PKCS#8 PEM. */
export function pkcs8Pem(raw: string): string {
  // WebCrypto (and so the JWT library in workerd) imports PKCS#8 only, while GitHub hands out PKCS#1
  // ("BEGIN RSA PRIVATE KEY"): such a key is wrapped in the PKCS#8 envelope here.
  const m = /-----BEGIN (RSA )?PRIVATE KEY-----([^-]*)-----END (RSA )?PRIVATE KEY-----/.exec(raw);
  const body = m?.[2].replace(/\\n/g, '').replace(/\s+/g, '');
  let der: Uint8Array | null = null;
  try {
    if (m && body && (m[1] ?? '') === (m[3] ?? '')) der = fromBase64(body);
  } catch {
    der = null;
  }
  if (!der || der[0] !== 0x30) {
    throw new AppError('PROVIDER_ERROR', 'GITHUB_APP_PRIVATE_KEY must be an unencrypted PEM RSA private key ("BEGIN RSA PRIVATE KEY" or "BEGIN PRIVATE KEY")');
  }
  if (m![1]) der = pkcs1ToPkcs8(der);
  const b64 = toBase64(der);
  return `-----BEGIN PRIVATE KEY-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

// AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }.
const RSA_ALGORITHM = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];

/** PrivateKeyInfo ::= SEQUENCE { version 0, rsaEncryption, OCTET STRING <RSAPrivateKey> } (RFC 5208). */
function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  return tlv(0x30, concat([Uint8Array.of(0x02, 0x01, 0x00), Uint8Array.from(RSA_ALGORITHM), tlv(0x04, pkcs1)]));
}

/** One DER element: tag, definite length, value. */
function tlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat([Uint8Array.of(tag, ...len), value]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
