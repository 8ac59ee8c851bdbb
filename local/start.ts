// `npm start`: the local stack plus `wrangler dev` bound to it, a dev API key and a curl example.
// Writes .local/stack.json (0600) and .dev.vars; Ctrl-C stops wrangler's process group and the stack.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { appBindings, startStack, stackInfo, workerBindings, type Stack } from './stack.ts';

const DIR = path.resolve('.local');
const PORT = Number(process.env.PORT ?? 8787);
const API_URL = `http://127.0.0.1:${PORT}`;
// GIT_SANDBOX_UPSTREAM=app: the gateway authenticates upstream as the local GitHub App instead of GIT_TOKEN.
const UPSTREAM = process.env.GIT_SANDBOX_UPSTREAM === 'app' ? 'app' : 'token';

await mkdir(DIR, { recursive: true });
const logFile = createWriteStream(path.join(DIR, 'stack.log'), { flags: 'a' });
const log = (s: string) => logFile.write(`${new Date().toISOString()} ${s}\n`);

/** Writes a file readable only by its owner (also when it already existed). */
async function writePrivate(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600);
}

let stack: Stack | undefined;
let wrangler: ChildProcess | undefined;
let stopping = false;

/** Kills wrangler's whole process group (npx, wrangler, workerd). */
function killWrangler(signal: NodeJS.Signals): void {
  if (wrangler?.pid && wrangler.exitCode === null && wrangler.signalCode === null) {
    try {
      process.kill(-wrangler.pid, signal);
    } catch {
      // group already gone
    }
  }
}

async function shutdown(code: number): Promise<void> {
  if (!stopping) {
    stopping = true;
    console.log('\nstopping…');
    if (wrangler && wrangler.exitCode === null && wrangler.signalCode === null) {
      const exited = new Promise((r) => wrangler!.once('exit', r));
      killWrangler('SIGTERM');
      const timer = setTimeout(() => killWrangler('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    killWrangler('SIGKILL'); // leftovers in the group, if any
    await stack?.stop();
    logFile.end();
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('exit', () => killWrangler('SIGKILL'));

async function waitForHealth(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (wrangler?.exitCode !== null || wrangler?.signalCode !== null) throw new Error('wrangler dev exited before the Worker answered');
    const ok = await fetch(`${API_URL}/healthz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status < 500, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no answer from ${API_URL}/healthz after ${timeoutMs / 1000}s`);
}

/** Returns a dev API key: DEV_API_KEY inserted directly into api_keys, or one minted via the admin API. */
async function devApiKey(databaseUrl: string, adminToken: string): Promise<string> {
  const fixed = process.env.DEV_API_KEY;
  if (fixed) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const hash = createHash('sha256').update(fixed).digest('hex');
      await client.query(
        `INSERT INTO api_keys (id, agent_id, key_hash) VALUES ($1, 'dev', $2) ON CONFLICT (key_hash) DO UPDATE SET revoked_at = NULL`,
        [`key_${randomBytes(12).toString('hex')}`, hash],
      );
    } finally {
      await client.end();
    }
    return fixed;
  }
  const res = await fetch(`${API_URL}/v1/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ agent_id: 'dev' }),
  });
  if (!res.ok) throw new Error(`POST /v1/admin/keys answered ${res.status}`);
  const body = (await res.json()) as { key?: string };
  if (!body.key) throw new Error('POST /v1/admin/keys returned no key');
  return body.key;
}

try {
  console.log(`starting the local stack in ${DIR} (logs: ${path.join(DIR, 'stack.log')})…`);
  stack = await startStack({ dir: DIR, log });
  const info = stackInfo(stack);
  const vars = Object.entries({ ...workerBindings(info), ...(UPSTREAM === 'app' ? appBindings(info) : {}), PUBLIC_URL: `http://127.0.0.1:${PORT}` }).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n');
  await writePrivate('.dev.vars', `# written by npm start; points wrangler dev at the local stack\n${vars}\n`);

  // Own process group (detached) so Ctrl-C here reaches all of wrangler/workerd via kill(-pid);
  // stdin ignored because a background group reading the terminal would be stopped (SIGTTIN).
  // Durable Object state lives under .local and starts empty: the sandboxes the pool knew died with
  // the previous local E2B host, so a stale pool would hand out dead members.
  const doState = path.join(DIR, 'wrangler-state');
  await rm(doState, { recursive: true, force: true });
  wrangler = spawn('npx', ['wrangler', 'dev', '--port', String(PORT), '--ip', '127.0.0.1', '--persist-to', doState, '--show-interactive-dev-session=false'], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    // wrangler dev's local observability records every invocation (each Durable Object call too) in
    // a trace store inside the same workerd, which cut the coordinator's local throughput ~5x in the
    // capacity bench; off unless X_LOCAL_OBSERVABILITY=true is set.
    env: { X_LOCAL_OBSERVABILITY: 'false', ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  wrangler.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`wrangler dev exited (${code ?? signal}); stopping the stack`);
    void shutdown(code || 1);
  });
  await waitForHealth(180_000);
  const apiKey = await devApiKey(info.database_url, info.admin_token);
  // Wakes the pool coordinator so the warm pool fills before the first lease arrives.
  await fetch(`${API_URL}/v1/admin/pool`, { headers: { authorization: `Bearer ${info.admin_token}` } }).catch(() => undefined);

  const out = {
    api_url: API_URL, api_key: apiKey, admin_token: info.admin_token, metrics_token: info.metrics_token,
    git_url: info.git_url, git_token: info.git_token, git_root: info.git_root, demo_repo_url: info.demo_repo_url,
    e2b_api_url: info.e2b_api_url, e2b_sandbox_url: info.e2b_sandbox_url, e2b_api_key: info.e2b_api_key,
    database_url: info.database_url,
    github_app_id: info.github_app_id, github_app_private_key: info.github_app_private_key, github_api_url: info.github_api_url,
  };
  await writePrivate(path.join(DIR, 'stack.json'), `${JSON.stringify(out, null, 2)}\n`);

  const body = JSON.stringify({ repo_url: info.demo_repo_url, task_id: 'hello' });
  console.log(`
git-sandbox is running.
  API:       ${API_URL}
  API key:   ${apiKey}   (agent "dev")
  demo repo: ${info.demo_repo_url}
  upstream:  ${UPSTREAM === 'app' ? `GitHub App ${info.github_app_id} (${info.github_api_url})` : 'GIT_TOKEN'}   (GIT_SANDBOX_UPSTREAM=app|token)
  sandboxes: ${isolationLine(stack.e2bHost?.isolation)}
  tokens:    ${path.join(DIR, 'stack.json')}

Try:
  curl -s -X POST ${API_URL}/v1/sandboxes -H "Authorization: Bearer ${apiKey}" -H 'content-type: application/json' -d '${body}'

Ctrl-C stops everything.`);
  if (stack.e2bHost && !stack.e2bHost.isolation.enabled) {
    console.warn(`\n!!! WARNING: local sandboxes are NOT isolated (${stack.e2bHost.isolation.reason ?? 'bubblewrap unavailable'}).\n!!! Agent code runs directly on this machine and can read .dev.vars and .local/. See local/ISOLATION.md to enable isolation.\n`);
  }
} catch (err) {
  console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
}

/** One banner line saying whether local sandboxes are isolated. */
function isolationLine(iso: { enabled: boolean; reason?: string } | undefined): string {
  if (!iso) return 'no local sandbox host';
  return iso.enabled ? 'isolated (bubblewrap: own user, mount, pid, ipc and uts namespaces; host network shared)' : `NOT ISOLATED: ${iso.reason ?? 'bubblewrap unavailable'} (see local/ISOLATION.md)`;
}
