// Upstream credentials against the real local git server: GitHub App installation tokens (JWT-checked
// installation lookup, repo-scoped minting, expiry, caching, invalidation) and the GIT_TOKEN fallback.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBareRepo, startGitServer, type GitServerHandle } from '../../local/git-server.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { parseRepoUrl, type RepoUrl } from '../../src/git/validate.ts';
import { githubRepo, upstreamAuth } from '../../src/gateway/upstream-auth.ts';

const TOKEN = `tok_${Math.random().toString(36).slice(2)}S3cret`;
const keypair = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const APP = { id: '4242', keys: keypair() };
const SHORT = { id: '5151', keys: keypair() };
const pkcs8 = (k: ReturnType<typeof keypair>) => k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const spki = (k: ReturnType<typeof keypair>) => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();

let tmp: string;
let server: GitServerHandle; // default token lifetime
let short: GitServerHandle; // tokens live 2 seconds
const logLines: string[] = [];

function git(args: string[], authorization: string | null, cwd?: string): Promise<{ code: number; out: string }> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  if (authorization) Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: ${authorization}` });
  return new Promise((resolve) => {
    execFile('git', args, { env: env as NodeJS.ProcessEnv, cwd }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const lsRemote = (url: string, authorization: string) => git(['ls-remote', '--heads', url], authorization);

/** A parsed config (fresh object, so parseConfig's per-object cache never hides a change). */
function config(vars: Partial<Record<keyof Config, string>>): Config {
  return parseConfig({ ...vars });
}

const appConfig = (h: GitServerHandle, app: { id: string; keys: ReturnType<typeof keypair> }, key = pkcs8(app.keys)) =>
  config({ GITHUB_APP_ID: app.id, GITHUB_APP_PRIVATE_KEY: key, GITHUB_API_URL: h.app!.apiUrl });

const repo = (h: GitServerHandle, p: string): RepoUrl => parseRepoUrl(`${h.url}/${p}.git`);

/** The password inside a Basic header. */
const password = (header: string) => Buffer.from(header.replace(/^Basic /, ''), 'base64').toString('utf8').split(':').slice(1).join(':');

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'gs-app-test-'));
  const root = path.join(tmp, 'repos');
  for (const name of ['demo', 'r-abc123', 'acme/app', 'acme/other', 'keys']) await createBareRepo(root, name, { 'hello.txt': `${name}\n` });
  server = await startGitServer({ root, token: TOKEN, app: { id: APP.id, publicKeyPem: spki(APP.keys) }, log: (s) => logLines.push(s) });
  short = await startGitServer({ root, token: TOKEN, app: { id: SHORT.id, publicKeyPem: spki(SHORT.keys), tokenTtlS: 2 }, log: (s) => logLines.push(s) });
});

afterAll(async () => {
  await server?.stop();
  await short?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('GitHub App upstream credentials', () => {
  it('maps owner/name paths as is and a single-segment path to owner "local"', () => {
    expect(githubRepo(parseRepoUrl('https://github.com/acme/app.git'))).toEqual({ owner: 'acme', name: 'app' });
    expect(githubRepo(parseRepoUrl('http://127.0.0.1:9/r-abc123.git'))).toEqual({ owner: 'local', name: 'r-abc123' });
    expect(() => githubRepo(parseRepoUrl('https://gitlab.com/a/b/c.git'))).toThrow(AppError);
  });

  it('mints an installation token whose header lets real git list and clone the repo', async () => {
    const auth = upstreamAuth(appConfig(server, APP));
    expect(auth.kind).toBe('app');
    const header = await auth.authorization(repo(server, 'demo'));
    expect(header).toMatch(/^Basic /);
    expect(Buffer.from(header.slice(6), 'base64').toString()).toMatch(/^x-access-token:ghs_/);
    const ls = await lsRemote(`${server.url}/demo.git`, header);
    expect(ls.code, ls.out).toBe(0);
    expect(ls.out).toMatch(/refs\/heads\/main/);
    const dir = path.join(tmp, 'clone-demo');
    const clone = await git(['clone', `${server.url}/demo.git`, dir], header);
    expect(clone.code, clone.out).toBe(0);
    expect(await readFile(path.join(dir, 'hello.txt'), 'utf8')).toBe('demo\n');
  });

  it('reuses the cached token per repo across calls and UpstreamAuth instances of an equal config', async () => {
    const before = server.app!.tokensMinted;
    const first = await upstreamAuth(appConfig(server, APP)).authorization(repo(server, 'acme/app'));
    const again = await Promise.all(Array.from({ length: 5 }, () => upstreamAuth(appConfig(server, APP)).authorization(repo(server, 'acme/app'))));
    expect(new Set([first, ...again]).size).toBe(1);
    expect(server.app!.tokensMinted - before).toBe(1);
  });

  it('shares one mint between concurrent first calls for the same repo', async () => {
    const before = server.app!.tokensMinted;
    const auth = upstreamAuth(appConfig(server, APP));
    const headers = await Promise.all(Array.from({ length: 8 }, () => auth.authorization(repo(server, 'acme/other'))));
    expect(new Set(headers).size).toBe(1);
    expect(server.app!.tokensMinted - before).toBe(1);
  });

  it('scopes a minted token to its one repository: another repo of the same owner refuses it', async () => {
    const auth = upstreamAuth(appConfig(server, APP));
    const forA = await auth.authorization(repo(server, 'acme/app'));
    expect((await lsRemote(`${server.url}/acme/app.git`, forA)).code).toBe(0);
    const other = await lsRemote(`${server.url}/acme/other.git`, forA);
    expect(other.code).not.toBe(0);
    expect(other.out).toMatch(/401|Authentication failed|could not read/i);
    const rootLevel = await auth.authorization(repo(server, 'r-abc123'));
    expect((await lsRemote(`${server.url}/r-abc123.git`, rootLevel)).code).toBe(0);
    expect((await lsRemote(`${server.url}/demo.git`, rootLevel)).code).not.toBe(0);
  });

  it('refuses a token past its lifetime; invalidate then authorization mints a fresh one that works', async () => {
    const auth = upstreamAuth(appConfig(short, SHORT));
    const old = await auth.authorization(repo(short, 'demo'));
    expect((await lsRemote(`${short.url}/demo.git`, old)).code).toBe(0);
    // The token expires at the whole second at most 2 s after it was minted: wait past that.
    await new Promise((r) => setTimeout(r, 2100));
    const refused = await lsRemote(`${short.url}/demo.git`, old);
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/401|Authentication failed|could not read/i);
    auth.invalidate(repo(short, 'demo'));
    const fresh = await auth.authorization(repo(short, 'demo'));
    expect(fresh).not.toBe(old);
    expect((await lsRemote(`${short.url}/demo.git`, fresh)).code).toBe(0);
  });

  it('keeps a revoked token until invalidate, then mints a new one that works', async () => {
    const auth = upstreamAuth(appConfig(server, APP));
    const old = await auth.authorization(repo(server, 'demo'));
    server.app!.revokeTokens();
    expect((await lsRemote(`${server.url}/demo.git`, old)).code).not.toBe(0);
    expect(await auth.authorization(repo(server, 'demo'))).toBe(old);
    auth.invalidate(repo(server, 'demo'));
    const fresh = await auth.authorization(repo(server, 'demo'));
    expect(fresh).not.toBe(old);
    expect((await lsRemote(`${server.url}/demo.git`, fresh)).code).toBe(0);
  });

  it('accepts a PKCS#1 key and keys with escaped newlines, CRLF or on one line as well as PKCS#8', async () => {
    const pkcs1 = APP.keys.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    const variants = [pkcs1, pkcs1.replace(/\n/g, '\\n'), pkcs1.replace(/\n/g, '\r\n'), pkcs8(APP.keys).replace(/\n/g, ' '), pkcs8(APP.keys).replace(/\n/g, '\\n')];
    for (const key of variants) {
      const header = await upstreamAuth(appConfig(server, APP, key)).authorization(repo(server, 'keys'));
      expect((await lsRemote(`${server.url}/keys.git`, header)).code).toBe(0);
    }
  });

  it('answers 401 to app JWTs signed with another key, naming another app, or expired', async () => {
    const other = keypair();
    const now = Math.floor(Date.now() / 1000);
    const jwt = (claims: Record<string, unknown>, key = APP.keys.privateKey) => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const body = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}`;
      return `${body}.${sign('RSA-SHA256', Buffer.from(body), key).toString('base64url')}`;
    };
    const status = async (token: string) =>
      (await fetch(`${server.app!.apiUrl}/repos/local/demo/installation`, { headers: { authorization: `Bearer ${token}` } })).status;
    const good = { iss: APP.id, iat: now - 30, exp: now + 540 };
    expect(await status(jwt(good))).toBe(200);
    expect(await status(jwt(good, other.privateKey))).toBe(401);
    expect(await status(jwt({ ...good, iss: '999' }))).toBe(401);
    expect(await status(jwt({ ...good, iat: now - 700, exp: now - 100 }))).toBe(401);
    expect(await status(jwt({ ...good, exp: now + 3600 }))).toBe(401);
    expect(await status('not.a.jwt')).toBe(401);
  });

  it('reports a wrong app key as PROVIDER_ERROR without any key material in the message', async () => {
    const wrong = pkcs8(keypair());
    const err = await upstreamAuth(appConfig(server, APP, wrong)).authorization(repo(server, 'demo')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('PROVIDER_ERROR');
    expect((err as AppError).message).toMatch(/401/);
    const body = wrong.split('\n')[1];
    expect(`${(err as AppError).message} ${(err as AppError).internal}`).not.toContain(body);
  });

  it('reports a repository the app is not installed on as PROVIDER_ERROR (404)', async () => {
    const err = await upstreamAuth(appConfig(server, APP)).authorization(repo(server, 'acme/missing')).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('PROVIDER_ERROR');
    expect((err as AppError).message).toMatch(/not installed.*404/);
  });

  it('refuses a key that is not a PEM RSA private key with a message that does not echo it', async () => {
    const err = await upstreamAuth(appConfig(server, APP, 'not-a-key-s3cret')).authorization(repo(server, 'demo')).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('PROVIDER_ERROR');
    expect((err as AppError).message).toMatch(/GITHUB_APP_PRIVATE_KEY/);
    expect((err as AppError).message).not.toContain('s3cret');
  });

  it('never writes minted tokens or JWTs to the server log', () => {
    const all = logLines.join('\n');
    expect(all).toMatch(/access_tokens 201/);
    expect(all).not.toMatch(/ghs_|eyJ/);
    expect(all.toLowerCase()).not.toContain('authorization');
  });
});

describe('GIT_TOKEN upstream credentials', () => {
  it('authenticates as GIT_USERNAME:GIT_TOKEN when no app is configured', async () => {
    const auth = upstreamAuth(config({ GIT_TOKEN: TOKEN, GIT_USERNAME: 'bot' }));
    expect(auth.kind).toBe('token');
    const header = await auth.authorization(repo(server, 'demo'));
    expect(Buffer.from(header.slice(6), 'base64').toString()).toBe(`bot:${TOKEN}`);
    expect(password(header)).toBe(TOKEN);
    expect((await lsRemote(`${server.url}/demo.git`, header)).code).toBe(0);
  });

  it('uses the app, not GIT_TOKEN, when both are configured', async () => {
    const auth = upstreamAuth(config({ GIT_TOKEN: TOKEN, GITHUB_APP_ID: APP.id, GITHUB_APP_PRIVATE_KEY: pkcs8(APP.keys), GITHUB_API_URL: server.app!.apiUrl }));
    expect(auth.kind).toBe('app');
    expect(password(await auth.authorization(repo(server, 'demo')))).toMatch(/^ghs_/);
  });

  it('throws PROVIDER_ERROR naming the variables when no credential is configured', async () => {
    const err = await upstreamAuth(config({ GITHUB_APP_ID: '1' })).authorization(repo(server, 'demo')).catch((e: unknown) => e);
    expect((err as AppError).code).toBe('PROVIDER_ERROR');
    expect((err as AppError).message).toMatch(/GIT_TOKEN.*GITHUB_APP_PRIVATE_KEY is missing/);
  });
});
