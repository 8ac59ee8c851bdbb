// The floor: the same git work without the service. N plain clones in temp dirs against the same
// local smart-HTTP remote, all at once; each round commits one file, then fetch + rebase + push with
// retry (exponential backoff + jitter, as the service does). With `lock`, an in-process FIFO mutex per
// repo serializes fetch + rebase + push like RepoLock does, at zero cost: the tightest floor.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { sleep } from './cleanup.ts';
import type { TaskRecord } from './agents.ts';

/** Options of runFloor. */
export interface FloorOptions {
  gitUrl: string;
  gitToken: string;
  repos: { name: string; url: string }[];
  agents: number;
  rounds: number;
  tag: string;
  /** Scratch directory; one clone per agent is made below it. */
  dir: string;
  /** Bound on push attempts per task (without the lock, contention needs more than the service's 4). */
  maxAttempts: number;
  /** Serialize fetch + rebase + push per repo with an in-process FIFO mutex (like RepoLock, free). */
  lock: boolean;
  /** Think time as the agents model it (start spread, pause between write and push); 0 = none. */
  thinkMs?: number;
  signal: AbortSignal;
}

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

const ASKPASS = `#!/bin/sh
case "$1" in Username*) printf '%s\\n' x-access-token ;; *) printf '%s\\n' "$GS_FLOOR_TOKEN" ;; esac
`;

/** A FIFO mutex: `run(fn)` runs fn after every earlier caller's fn settled; resolves with the wait. */
class Fifo {
  #tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<{ value: T; waitedMs: number }> {
    const t0 = performance.now();
    const prev = this.#tail;
    let done!: () => void;
    this.#tail = new Promise<void>((r) => (done = r));
    await prev;
    const waitedMs = performance.now() - t0;
    try {
      return { value: await fn(), waitedMs };
    } finally {
      done();
    }
  }
}

/** Same backoff as the service: 100 ms · 2^attempt capped at 2 s, times a jitter in [0.5, 1). */
const backoffMs = (attempt: number) => Math.round(Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2));

function gitRunner(home: string, token: string, signal: AbortSignal) {
  // The token reaches git only through the askpass helper and an env var, as in the service.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: path.join(home, 'askpass.sh'),
    GS_FLOOR_TOKEN: token,
    GIT_AUTHOR_NAME: 'floor',
    GIT_AUTHOR_EMAIL: 'floor@bench.invalid',
    GIT_COMMITTER_NAME: 'floor',
    GIT_COMMITTER_EMAIL: 'floor@bench.invalid',
    GIT_CONFIG_COUNT: '1',
    GIT_CONFIG_KEY_0: 'credential.helper',
    GIT_CONFIG_VALUE_0: '',
  };
  return (cwd: string, ...args: string[]): Promise<GitResult> =>
    new Promise((resolve) => {
      // Cast: wrangler's generated types make ProcessEnv require the Worker's vars.
      execFile('git', args, { cwd, env: env as NodeJS.ProcessEnv, signal, timeout: 120_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    });
}

/** Runs the floor for one scenario shape; one record per task, in the agents' format. */
export async function runFloor(o: FloorOptions): Promise<TaskRecord[]> {
  await mkdir(o.dir, { recursive: true });
  await writeFile(path.join(o.dir, 'askpass.sh'), ASKPASS, { mode: 0o700 });
  const git = gitRunner(o.dir, o.gitToken, o.signal);
  const out: TaskRecord[] = [];
  const locks = new Map(o.repos.map((r) => [r.name, new Fifo()]));
  try {
    await Promise.all(
      Array.from({ length: o.agents }, async (_, agent) => {
        const repo = o.repos[agent % o.repos.length];
        const work = path.join(o.dir, `a${agent}`);
        if (o.thinkMs) await sleep(Math.random() * o.thinkMs, o.signal).catch(() => {});
        for (let round = 1; round <= o.rounds && !o.signal.aborted; round++) {
          const taskId = `${o.tag}-a${agent}-r${round}`;
          const rec: TaskRecord = { agent, round, repo: repo.name, taskId, message: `bench ${taskId}`, file: `bench/${taskId}.txt`, ok: false, errors: [] };
          out.push(rec);
          const fail = (at: TaskRecord['failedAt'], r: GitResult, what: string) => {
            rec.failedAt = at;
            rec.errors.push(`${at}:GIT_${what.toUpperCase()}_FAILED`);
            rec.lastError = `${what}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`.slice(0, 300);
          };
          const t0 = performance.now();
          // "Lease": a fresh clone on the first round, fetch + fresh branch from the tip afterwards.
          const lease = round === 1
            ? await git(o.dir, 'clone', '--quiet', '--no-tags', '--single-branch', '--branch', 'main', repo.url, work)
            : await git(work, 'fetch', '--quiet', '--no-tags', 'origin', '+refs/heads/main:refs/remotes/origin/main');
          const co = lease.code === 0 ? await git(work, 'checkout', '--quiet', '-f', '-B', 'work', 'origin/main') : lease;
          rec.lease_ms = performance.now() - t0;
          rec.lease_source = round === 1 ? 'clone' : 'fetch';
          if (co.code !== 0) {
            fail('lease', co, round === 1 ? 'clone' : 'fetch');
            continue;
          }
          const tw = performance.now();
          await mkdir(path.join(work, 'bench'), { recursive: true });
          await writeFile(path.join(work, rec.file), `${taskId}\n${Math.random().toString(36).slice(2)}\n`);
          rec.write_ms = performance.now() - tw;
          if (o.thinkMs) await sleep(o.thinkMs * (0.5 + Math.random()), o.signal).catch(() => {});

          const tp = performance.now();
          const add = await git(work, 'add', '-A');
          const commit = add.code === 0 ? await git(work, 'commit', '--quiet', '-m', rec.message) : add;
          if (commit.code !== 0) {
            fail('push', commit, 'commit');
            continue;
          }
          // One landing attempt: 'ok', 'retry' (rejected: the branch moved) or 'fail'.
          const land = async (): Promise<'ok' | 'retry' | 'fail'> => {
            const f = await git(work, 'fetch', '--quiet', '--no-tags', 'origin', '+refs/heads/main:refs/remotes/origin/main');
            if (f.code !== 0) return (fail('push', f, 'fetch'), 'fail');
            const rb = await git(work, 'rebase', '--quiet', 'origin/main');
            if (rb.code !== 0) {
              await git(work, 'rebase', '--abort');
              return (fail('push', rb, 'rebase'), 'fail');
            }
            const p = await git(work, 'push', '--porcelain', 'origin', 'HEAD:refs/heads/main');
            if (p.code === 0) return 'ok';
            if (/rejected|fetch first|non-fast-forward|cannot lock ref|failed to update ref/.test(`${p.stdout}\n${p.stderr}`)) return 'retry';
            return (fail('push', p, 'push'), 'fail');
          };
          for (let attempt = 1; attempt <= o.maxAttempts && !o.signal.aborted; attempt++) {
            rec.push_attempts = attempt;
            let r: 'ok' | 'retry' | 'fail';
            if (o.lock) {
              const got = await locks.get(repo.name)!.run(land);
              r = got.value;
              rec.lock_wait_ms = (rec.lock_wait_ms ?? 0) + got.waitedMs;
            } else {
              r = await land();
            }
            if (r === 'ok') {
              rec.commit = (await git(work, 'rev-parse', 'HEAD')).stdout.trim();
              break;
            }
            if (r === 'fail') break;
            if (attempt === o.maxAttempts) {
              rec.failedAt = 'push';
              rec.errors.push('push:RETRIES_EXHAUSTED');
            } else await sleep(backoffMs(attempt - 1), o.signal).catch(() => {});
          }
          rec.push_ms = performance.now() - tp;
          rec.task_ms = performance.now() - t0;
          rec.ok = !rec.failedAt && !!rec.commit;
        }
      }),
    );
  } finally {
    await rm(o.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
  }
  return out;
}

/** Uncontended cost of one push: one clone pushing `n` commits in a row (the per-push git floor). */
export async function serialFloor(o: Omit<FloorOptions, 'agents' | 'rounds' | 'maxAttempts' | 'lock'>, n: number): Promise<TaskRecord[]> {
  return runFloor({ ...o, agents: 1, rounds: n, maxAttempts: 3, lock: false });
}
