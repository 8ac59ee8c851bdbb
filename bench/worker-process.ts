// Runs the Worker under `wrangler dev` for one scenario: vars and secrets go through a private temp
// --env-file (so the repo's .dev.vars is neither read nor touched), DO state is persisted to a fresh
// temp dir, and wrangler runs in its own process group so it can be stopped as a whole. The Worker is
// bundled once per run (bundleWorker), so every scenario runs the same code and edits to src/ during
// the run neither reload the Worker mid-scenario nor mix builds.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { alive, freePort, onCleanup, sleep, stopGroup, trackGroup } from './cleanup.ts';

/**
 * Bundles a Worker (default: the service, wrangler.toml) with `wrangler deploy --dry-run --outdir`
 * and writes a copy of its config whose `main` is that bundle; returns the copy's path (run it with
 * --no-bundle).
 */
export async function bundleWorker(root: string, outDir: string, configPath = path.join(root, 'wrangler.toml')): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const wranglerBin = path.join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [wranglerBin, 'deploy', '--dry-run', '--outdir', outDir, '--config', configPath], {
      cwd: root, timeout: 180_000, maxBuffer: 16 << 20, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    }, (err, _stdout, stderr) => (err ? reject(new Error(`bundling the Worker failed: ${String(stderr).slice(-2000) || err.message}`)) : resolve()));
  });
  const toml = await readFile(configPath, 'utf8');
  const main = /^main\s*=\s*"([^"]+)"\s*$/m.exec(toml);
  if (!main) throw new Error(`${configPath} has no \`main = "…"\` line`);
  // The bundle is named after the entry module: src/worker.ts → worker.js.
  const bundle = `${path.basename(main[1], path.extname(main[1]))}.js`;
  const config = path.join(outDir, 'wrangler.toml');
  // The copy lives elsewhere: relative directories (e.g. [assets] directory) are made absolute.
  const base = path.dirname(path.resolve(configPath));
  const copy = toml
    .replace(/^main\s*=.*$/m, `main = "${bundle}"`)
    .replace(/^(\s*directory\s*=\s*)"([^"/][^"]*)"/gm, (_m, key: string, dir: string) => `${key}${JSON.stringify(path.resolve(base, dir))}`);
  await writeFile(config, copy);
  return config;
}

/** Options of startWorker. */
export interface WorkerOptions {
  /** Repository root (wrangler's node_modules). */
  root: string;
  /** The bundled config from bundleWorker. */
  config: string;
  /** Vars and secrets for the Worker; written to a 0600 env file. */
  vars: Record<string, string>;
  /** Scratch directory of this run (env file, DO state). */
  dir: string;
  logFile: string;
  readyTimeoutMs?: number;
}

/** A running `wrangler dev`. */
export interface WorkerProcess {
  url: string;
  /** wrangler's DevTools inspector port (CPU profiles of the Worker's isolate). */
  inspectorPort: number;
  /** wrangler's pid (leader of its process group: wrangler, workerd). */
  pid: number | undefined;
  stop(): Promise<void>;
}

const quote = (v: string) => JSON.stringify(v);

/** Starts `wrangler dev` on a free loopback port and resolves once /healthz answers 200. */
export async function startWorker(opts: WorkerOptions): Promise<WorkerProcess> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const envFile = path.join(opts.dir, 'worker.env');
  const persist = path.join(opts.dir, 'do-state');
  await mkdir(opts.dir, { recursive: true });
  // Sandboxes reach the Worker's git gateway on this port.
  const vars = { ...opts.vars, PUBLIC_URL: `http://127.0.0.1:${port}` };
  await writeFile(envFile, `${Object.entries(vars).map(([k, v]) => `${k}=${quote(v)}`).join('\n')}\n`, { mode: 0o600 });
  const log = createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 });
  const wranglerBin = path.join(opts.root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
  const args = [
    wranglerBin, 'dev',
    '--config', opts.config, '--no-bundle',
    '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', persist, '--env-file', envFile,
    // Default log level ("log"): the Worker's console.log JSON lines reach the log file.
    '--show-interactive-dev-session=false',
  ];
  // wrangler also reads process.env for keys named in [vars]/[secrets]: drop those so the env file rules.
  // wrangler dev's local explorer and local observability (on by default) send every invocation's
  // tail events, each Durable Object call included, to a trace store in the same workerd that writes
  // them to SQLite: a development tool production does not have, which cost the capacity bench most
  // of its throughput (grants/s fell from 500 to 60 within 20 s as the store grew). Off for the bench.
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: 'true', X_LOCAL_OBSERVABILITY: 'false', X_LOCAL_EXPLORER: 'false' };
  for (const k of Object.keys(vars)) delete env[k];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: opts.root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  trackGroup(child);
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const stop = async () => {
    await stopGroup(child, 5000);
    log.end();
  };
  const unregister = onCleanup('wrangler dev', stop, 15_000);
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 180_000);
    for (;;) {
      if (!alive(child)) throw new Error(`wrangler dev exited (${child.exitCode ?? child.signalCode}) before the Worker answered; see ${opts.logFile}`);
      const status = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) }).then((r) => (r.body?.cancel(), r.status), () => 0);
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`no healthy answer from ${url}/healthz (last status ${status}); see ${opts.logFile}`);
      await sleep(300);
    }
  } catch (e) {
    unregister();
    await stop();
    throw e;
  }
  return {
    url,
    inspectorPort,
    pid: child.pid,
    stop: async () => {
      unregister();
      await stop();
    },
  };
}
