// The test oracle: a loopback HTTP server in the Node test process that lets Worker tests (inside
// workerd, which cannot spawn processes) inspect and perturb the real stack: run git against the
// bare repos, push behind the service's back, read webhook deliveries, stop/start Postgres,
// inject sandbox-provider faults, and scan sandbox files for secrets.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createBareRepo, repoPath } from '../../local/git-server.ts';
import type { Stack } from '../../local/stack.ts';
import { contractHandlers } from './contract-oracle.ts';
import { PROMTOOL_MISSING, promtool, promtoolRequired } from './promtool.ts';

const pexec = promisify(execFile);
const IDENT = { GIT_AUTHOR_NAME: 'oracle', GIT_AUTHOR_EMAIL: 'oracle@test.invalid', GIT_COMMITTER_NAME: 'oracle', GIT_COMMITTER_EMAIL: 'oracle@test.invalid' };

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const s = Buffer.concat(chunks).toString('utf8');
  return s ? (JSON.parse(s) as Record<string, unknown>) : {};
}

async function git(args: string[], cwd?: string): Promise<{ stdout: string; code: number }> {
  try {
    const r = await pexec('git', args, { cwd, env: { ...process.env, ...IDENT }, maxBuffer: 64 * 1024 * 1024 });
    return { stdout: r.stdout, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; code?: number };
    return { stdout: err.stdout ?? '', code: typeof err.code === 'number' ? err.code : 1 };
  }
}

/** Starts the oracle for a running stack; returns its URL and a stop function. */
export async function startOracle(stack: Stack): Promise<{ url: string; stop(): Promise<void> }> {
  const webhooks: unknown[] = [];
  const handlers: Record<string, (b: Record<string, unknown>) => Promise<unknown>> = {
    'POST /webhook': async (b) => {
      webhooks.push(b);
      return { ok: true };
    },
    'GET /webhook': async () => ({ deliveries: webhooks }),
    'POST /repos': async (b) => {
      await createBareRepo(stack.git_root, String(b.name), b.files as Record<string, string> | undefined);
      return { url: `${stack.git_url}/${String(b.name)}.git` };
    },
    'POST /git': async (b) => git(['-C', repoPath(stack.git_root, String(b.repo)), ...(b.args as string[])]),
    // Commits a file straight into the bare repo (no service, no lock), as another client would.
    'POST /push-direct': async (b) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'oracle-'));
      try {
        const bare = repoPath(stack.git_root, String(b.repo));
        await git(['clone', '--quiet', '--branch', String(b.branch ?? 'main'), bare, dir]);
        await writeFile(path.join(dir, String(b.file)), String(b.content));
        await git(['add', '-A'], dir);
        await git(['commit', '--quiet', '-m', String(b.message ?? 'direct push')], dir);
        const push = await git(['push', '--quiet', 'origin', `HEAD:${String(b.branch ?? 'main')}`], dir);
        const sha = (await git(['rev-parse', 'HEAD'], dir)).stdout.trim();
        return { ok: push.code === 0, sha };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    // Installs a one-shot pre-receive hook that moves the branch itself while the service's push is
    // in flight, so that push loses git's compare-and-swap exactly once (a push that bypassed the lock).
    'POST /race-hook': async (b) => {
      const bare = repoPath(stack.git_root, String(b.repo));
      const branch = String(b.branch ?? 'main');
      const hook = `#!/bin/sh
[ -f "$GIT_DIR/race-done" ] && exit 0
grep -q " refs/heads/${branch}$" || exit 0
touch "$GIT_DIR/race-done"
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
export GIT_AUTHOR_NAME=racer GIT_AUTHOR_EMAIL=racer@test.invalid GIT_COMMITTER_NAME=racer GIT_COMMITTER_EMAIL=racer@test.invalid
tip=$(git rev-parse refs/heads/${branch})
blob=$(echo raced | git hash-object -w --stdin)
export GIT_INDEX_FILE="$GIT_DIR/race-index"
git read-tree "$tip"
git update-index --add --cacheinfo 100644,$blob,race.txt
tree=$(git write-tree)
commit=$(git commit-tree "$tree" -p "$tip" -m "racing push")
git update-ref refs/heads/${branch} "$commit" "$tip"
rm -f "$GIT_INDEX_FILE"
exit 0
`;
      await writeFile(path.join(bare, 'hooks', 'pre-receive'), hook, { mode: 0o755 });
      return { ok: true };
    },
    // Installs a one-shot post-receive hook that kills a sandbox (the lander) once the branch has
    // moved, so the landing dies after the remote accepted it.
    'POST /kill-after-receive': async (b) => {
      const bare = repoPath(stack.git_root, String(b.repo));
      const branch = String(b.branch ?? 'main');
      const hook = `#!/bin/sh
[ -f "$GIT_DIR/kill-done" ] && exit 0
grep -q " refs/heads/${branch}$" || exit 0
touch "$GIT_DIR/kill-done"
curl -s -X DELETE -H 'X-API-KEY: ${stack.e2b_api_key}' '${stack.e2b_api_url}/sandboxes/${String(b.sandbox)}' >/dev/null
exit 0
`;
      await writeFile(path.join(bare, 'hooks', 'post-receive'), hook, { mode: 0o755 });
      return { ok: true };
    },
    // Installs a one-shot pre-receive hook that holds a push to the branch for `ms` (a slow remote),
    // touching a marker file first so a test knows the push is in flight.
    'POST /slow-receive': async (b) => {
      const bare = repoPath(stack.git_root, String(b.repo));
      const branch = String(b.branch ?? 'main');
      const hook = `#!/bin/sh
[ -f "$GIT_DIR/slow-done" ] && exit 0
grep -q " refs/heads/${branch}$" || exit 0
touch "$GIT_DIR/slow-done"
sleep ${Number(b.ms ?? 3000) / 1000}
exit 0
`;
      await writeFile(path.join(bare, 'hooks', 'pre-receive'), hook, { mode: 0o755 });
      return { ok: true };
    },
    'POST /slow-receive/started': async (b) => ({ started: existsSync(path.join(repoPath(stack.git_root, String(b.repo)), 'slow-done')) }),
    // Freezes (SIGSTOP) or thaws (SIGCONT) the postmaster and every backend: a database that hangs.
    'POST /postgres/freeze': async () => ({ pids: signalPostgres(stack.postgres.dataDir, 'SIGSTOP') }),
    'POST /postgres/thaw': async () => ({ pids: signalPostgres(stack.postgres.dataDir, 'SIGCONT') }),
    'POST /postgres/stop': async () => {
      await stack.postgres.stop();
      return { ok: true };
    },
    'POST /postgres/start': async () => {
      await stack.postgres.restart();
      return { ok: true };
    },
    'POST /e2b/fail-next-creates': async (b) => {
      stack.e2bHost?.failNextCreates(Number(b.count ?? 1));
      return { ok: true };
    },
    'GET /e2b/count': async () => ({ count: stack.e2bHost?.sandboxCount() ?? 0 }),
    // Runs `promtool check metrics` on a scrape the Worker test took (workerd cannot spawn it).
    'POST /promtool/check-metrics': async (b) => {
      const r = await promtool(['check', 'metrics'], String(b.text));
      return r ? { ...r, missing: false } : { missing: true, required: promtoolRequired(), message: PROMTOOL_MISSING };
    },
    ...contractHandlers(),
    // Counts files under the sandboxes' root and the git root that contain `needle`.
    'POST /scan': async (b) => {
      const roots = [stack.e2bHost?.root, stack.git_root].filter(Boolean) as string[];
      const r = await pexec('grep', ['-rlF', '--', String(b.needle), ...roots]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
      return { files: r.stdout.split('\n').filter(Boolean) };
    },
  };
  const server: Server = createServer(async (req, res) => {
    const key = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
    const h = handlers[key] as ((b: Record<string, unknown>) => Promise<unknown>) | undefined;
    try {
      const out = h ? await h(await body(req)) : { error: `no oracle route ${key}` };
      res.writeHead(h ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    } catch (e) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(e) }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(() => r())) };
}

/** Sends `sig` to the postmaster of `dataDir` and its direct children; returns the pids signalled. */
function signalPostgres(dataDir: string, sig: NodeJS.Signals): number[] {
  const master = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [master];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master) pids.push(Number(d));
    } catch {
      // the process ended meanwhile
    }
  }
  for (const pid of pids) process.kill(pid, sig);
  return pids;
}
