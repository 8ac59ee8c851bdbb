// The embedded local stack: Postgres (+ Neon-style ws proxy, migrations), the smart-HTTP git server with a
// seeded demo repo, and the local E2B-compatible host. `npm start`, tests and the benchmark all start it here.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { E2BHost } from './e2b-host/index.ts';
import { createBareRepo, repoPath, startGitServer, type GitServerHandle } from './git-server.ts';
import { applyMigrations } from './migrate.ts';
import { startPostgres, type PostgresHandle } from './postgres.ts';
import { parseLoopbackAddress, startWsProxy, type WsProxyHandle } from './ws-proxy.ts';
import type { StackInfo } from './stack-info.ts';

export type { StackInfo } from './stack-info.ts';

/** Options for startStack. */
export interface StackOptions {
  /** State directory (Postgres data, git repos, sandboxes). Default `.local`. */
  dir?: string;
  gitToken?: string;
  /** Local E2B host settings, or `false` to run without a sandbox host. */
  e2b?: { createLatencyMs?: number; maxSandboxes?: number } | false;
  log?: (s: string) => void;
}

/** A running stack: its info plus the handles of the parts and `stop()` for all of them. */
export interface Stack extends StackInfo {
  postgres: PostgresHandle;
  wsProxy: WsProxyHandle | null;
  git: GitServerHandle;
  e2bHost: E2BHost | null;
  stop(): Promise<void>;
}

const secret = (prefix: string) => `${prefix}_${randomBytes(24).toString('base64url')}`;

/** Starts every part of the local stack; on failure, stops whatever had started and rethrows. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = path.resolve(opts.dir ?? '.local');
  const log = opts.log ?? (() => {});
  await mkdir(dir, { recursive: true });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((e) => log(`stack stop: ${e}`));
  };
  try {
    const postgres = await startPostgres({ dataDir: path.join(dir, 'pg'), log: (s) => log(`[postgres] ${s}`) });
    stops.push(() => postgres.stop());
    // The ws proxy only reaches loopback, so a remote DATABASE_URL (real Neon) goes without it.
    const dbAddr = new URL(postgres.databaseUrl);
    const local = parseLoopbackAddress(`${dbAddr.hostname}:${dbAddr.port || 5432}`) !== null;
    const wsProxy = local ? await startWsProxy({ log: (s) => log(`[ws-proxy] ${s}`) }) : null;
    if (wsProxy) stops.push(() => wsProxy.stop());
    await applyMigrations(postgres.databaseUrl);

    const gitRoot = path.join(dir, 'git');
    const gitToken = opts.gitToken ?? secret('gtk');
    if (!existsSync(repoPath(gitRoot, 'demo'))) await createBareRepo(gitRoot, 'demo');
    // A fresh local GitHub App per start; the git server verifies its JWTs and mints its tokens.
    const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const app = { id: String(100_000 + Math.floor(Math.random() * 900_000)), publicKeyPem: appKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString() };
    const git = await startGitServer({ root: gitRoot, token: gitToken, app, log: (s) => log(`[git] ${s}`) });
    stops.push(() => git.stop());

    let e2bHost: E2BHost | null = null;
    if (opts.e2b !== false) {
      // Loaded lazily so a DB/git-only stack (e2b: false) does not depend on the sandbox host module.
      const { startE2BHost } = await import('./e2b-host/index.ts');
      const host = await startE2BHost({
        root: path.join(dir, 'e2b'),
        createLatencyMs: opts.e2b?.createLatencyMs,
        maxSandboxes: opts.e2b?.maxSandboxes,
        log: (s) => log(`[e2b] ${s}`),
      });
      stops.push(() => host.stop());
      e2bHost = host;
    }

    const info: StackInfo = {
      admin_token: secret('adm'),
      metrics_token: secret('met'),
      git_url: git.url,
      git_token: gitToken,
      git_root: gitRoot,
      demo_repo_url: `${git.url}/demo.git`,
      e2b_api_url: e2bHost?.url ?? '',
      e2b_sandbox_url: e2bHost?.url ?? '',
      e2b_api_key: e2bHost?.apiKey ?? '',
      database_url: postgres.databaseUrl,
      neon_ws_proxy: wsProxy?.url ?? '',
      error_encryption_key: randomBytes(32).toString('base64'),
      github_app_id: app.id,
      github_app_private_key: appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      github_api_url: git.app!.apiUrl,
    };
    return { ...info, postgres, wsProxy, git, e2bHost, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The Worker env (vars and secrets) that points it at this stack; used by `npm start` and tests. */
export function workerBindings(info: StackInfo): Record<string, string> {
  return {
    DATABASE_URL: info.database_url,
    NEON_WS_PROXY: info.neon_ws_proxy,
    E2B_API_KEY: info.e2b_api_key,
    E2B_API_URL: info.e2b_api_url,
    E2B_SANDBOX_URL: info.e2b_sandbox_url,
    GIT_TOKEN: info.git_token,
    ADMIN_TOKEN: info.admin_token,
    METRICS_TOKEN: info.metrics_token,
    ERROR_ENCRYPTION_KEY: info.error_encryption_key,
    ALLOWED_REPOS: `${new URL(info.git_url).host}/*`,
    // Pull requests go to the git server's GitHub stand-in, with GIT_TOKEN or the App's tokens alike.
    GITHUB_API_URL: info.github_api_url,
  };
}

/** The Worker vars that switch the git gateway to the stack's local GitHub App (merge over workerBindings). */
export function appBindings(info: StackInfo): Record<string, string> {
  return {
    GITHUB_APP_ID: info.github_app_id,
    GITHUB_APP_PRIVATE_KEY: info.github_app_private_key,
    GITHUB_API_URL: info.github_api_url,
    GIT_TOKEN: '',
  };
}

/** The plain StackInfo of a running stack (drops handles and functions), e.g. for JSON. */
export function stackInfo(stack: Stack): StackInfo {
  const { postgres: _p, wsProxy: _w, git: _g, e2bHost: _e, stop: _s, ...info } = stack;
  return info;
}
