// The floor: the same git work without the service. N plain clones in temp dirs against the same
// local smart-HTTP remote, all at once; each round commits one file, then fetch + rebase + push with
// retry (exponential backoff + jitter, like the service but with no lock). Measured like the agents.
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
  /** Bound on push attempts per task (no lock, so contention needs more than the service's 4). */
  maxAttempts: number;
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
  try {
    await Promise.all(
      Array.from({ length: o.agents }, async (_, agent) => {
        const repo = o.repos[agent % o.repos.length];
        const work = path.join(o.dir, `a${agent}`);
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

          const tp = performance.now();
          const add = await git(work, 'add', '-A');
          const commit = add.code === 0 ? await git(work, 'commit', '--quiet', '-m', rec.message) : add;
          if (commit.code !== 0) {
            fail('push', commit, 'commit');
            continue;
          }
          for (let attempt = 1; attempt <= o.maxAttempts && !o.signal.aborted; attempt++) {
            rec.push_attempts = attempt;
            const f = await git(work, 'fetch', '--quiet', '--no-tags', 'origin', '+refs/heads/main:refs/remotes/origin/main');
            if (f.code !== 0) {
              fail('push', f, 'fetch');
              break;
            }
            const rb = await git(work, 'rebase', '--quiet', 'origin/main');
            if (rb.code !== 0) {
              await git(work, 'rebase', '--abort');
              fail('push', rb, 'rebase');
              break;
            }
            const p = await git(work, 'push', '--porcelain', 'origin', 'HEAD:refs/heads/main');
            if (p.code === 0) {
              rec.commit = (await git(work, 'rev-parse', 'HEAD')).stdout.trim();
              break;
            }
            const text = `${p.stdout}\n${p.stderr}`;
            if (!/rejected|fetch first|non-fast-forward|cannot lock ref|failed to update ref/.test(text)) {
              fail('push', p, 'push');
              break;
            }
            if (attempt === o.maxAttempts) fail('push', p, 'push_retries');
            else await sleep(backoffMs(attempt - 1), o.signal).catch(() => {});
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
export async function serialFloor(o: Omit<FloorOptions, 'agents' | 'rounds' | 'maxAttempts'>, n: number): Promise<TaskRecord[]> {
  return runFloor({ ...o, agents: 1, rounds: n, maxAttempts: 3 });
}
