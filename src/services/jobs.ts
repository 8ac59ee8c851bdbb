// Background jobs on a lease: start (exec with background: true), state, logs by offset, kill, list.
// A job belongs to its lease (another agent's lease is a 404, so are its jobs) and dies with it:
// the scrub kills every process and empties $HOME, where the job's state is kept (see
// src/sandbox/job-scripts.ts for why the sandbox keeps it).
import type { JobList, JobLogs, JobLogsQuery, JobStarted, JobState, LogChunk } from '../contract-jobs.ts';
import { JOB_ID_PATTERN } from '../contract-jobs.ts';
import { AppError } from '../errors.ts';
import { markers } from '../git/script-results.ts';
import { fromBase64, incompleteTail, pieceOf } from '../lib/output-pieces.ts';
import type { LeaseRecord } from '../pool/types.ts';
import { jobKillScript, jobListScript, jobLogsScript, jobStartScript, jobStatusScript } from '../sandbox/job-scripts.ts';
import { runBounded } from '../sandbox/bounded-run.ts';
import type { Sandbox } from '../sandbox/provider.ts';
import type { ServiceContext } from './context.ts';
import { withOperation } from './git-ops.ts';
import { openLease } from './leases.ts';

/** What to start. */
export interface JobInput {
  command: string;
  timeout_ms?: number;
}

/** The dir of a lease's jobs. */
function jobsDir(lease: LeaseRecord): string {
  return `${lease.home}/.git-sandbox/jobs`;
}

const iso = (ms: string | undefined) => (ms && /^\d+$/.test(ms) ? new Date(Number(ms)).toISOString() : null);

/** A job's state from the markers its scripts print. */
function stateOf(id: string, m: Record<string, string>, cap: number): JobState {
  const exit = m.EXIT && /^-?\d+$/.test(m.EXIT) ? Number(m.EXIT) : null;
  // A runner that died without recording an end leaves the job ended with no exit code.
  const running = exit === null && m.ALIVE === '1';
  const out = Number(m.OUT ?? 0);
  const err = Number(m.ERR ?? 0);
  let command = '';
  try {
    command = new TextDecoder().decode(fromBase64(m.CMD ?? ''));
  } catch {
    // The tenant may have rewritten the file: the state still answers, without the command.
  }
  return {
    job_id: id,
    command,
    status: running ? 'running' : 'exited',
    exit_code: running ? null : exit,
    killed: m.KILLED === '1',
    timed_out: m.TIMEDOUT === '1',
    started_at: iso(m.STARTED) ?? new Date(0).toISOString(),
    ended_at: running ? null : iso(m.ENDED),
    stdout_bytes: Math.min(out, cap),
    stderr_bytes: Math.min(err, cap),
    truncated: out > cap || err > cap,
  };
}

/** Throws NOT_FOUND for a job id that is malformed or not one of this lease's jobs. */
function assertJobId(leaseId: string, jobId: string): void {
  if (!JOB_ID_PATTERN.test(jobId)) throw new AppError('NOT_FOUND', `no job ${jobId} in lease ${leaseId}`);
}

/** Runs a job script; a missing job is a 404, a failed script a sandbox failure. */
async function jobScript(sbx: Sandbox, lease: LeaseRecord, jobId: string, script: string, envs: Record<string, string> = {}, maxChars = 65_536): Promise<Record<string, string>> {
  const r = await runBounded(sbx, script, { envs: { GS_JOBS: jobsDir(lease), GS_JOB_ID: jobId, ...envs }, maxChars, timeoutMs: 30_000 });
  const m = markers(r.stdout);
  if (m.MISSING) throw new AppError('NOT_FOUND', `no job ${jobId} in lease ${lease.id}`);
  if (r.exitCode !== 0 || r.overflow || !m.STARTED) throw new AppError('SANDBOX_UNAVAILABLE', 'the job runner failed in the sandbox', { internal: `exit ${r.exitCode}: ${r.stderr.slice(-2000)}` });
  return m;
}

/** Starts a command as a background job of the lease; answers at once. */
export async function startJob(ctx: ServiceContext, agentId: string, id: string, input: JobInput): Promise<JobStarted> {
  const jobId = `job_${[...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  return withOperation(ctx, agentId, id, 'job_start', async ({ lease, sbx }) => {
    const envs = {
      GS_WORKDIR: lease.workdir!,
      GS_CMD: input.command,
      GS_CAP: String(ctx.cfg.MAX_OUTPUT_BYTES),
      GS_TIMEOUT_S: input.timeout_ms ? (input.timeout_ms / 1000).toFixed(3) : '',
    };
    const m = await jobScript(sbx, lease, jobId, jobStartScript(), envs);
    ctx.log.info('job_started', { lease: id, job: jobId });
    return { job_id: jobId, status: 'running' as const, started_at: iso(m.STARTED)! };
  });
}

/** A job's state. */
export async function jobState(ctx: ServiceContext, agentId: string, id: string, jobId: string): Promise<JobState> {
  assertJobId(id, jobId);
  const { lease, sbx } = await openLease(ctx, agentId, id, 'job_status');
  return stateOf(jobId, await jobScript(sbx, lease, jobId, jobStatusScript()), ctx.cfg.MAX_OUTPUT_BYTES);
}

/** Kills a job and every process it started; answers its state once it has ended. */
export async function killJob(ctx: ServiceContext, agentId: string, id: string, jobId: string): Promise<JobState> {
  assertJobId(id, jobId);
  return withOperation(ctx, agentId, id, 'job_kill', async ({ lease, sbx }) => {
    const state = stateOf(jobId, await jobScript(sbx, lease, jobId, jobKillScript()), ctx.cfg.MAX_OUTPUT_BYTES);
    ctx.log.info('job_killed', { lease: id, job: jobId, exit_code: state.exit_code });
    return state;
  });
}

/** The lease's jobs, newest first (at most 100). */
export async function listJobs(ctx: ServiceContext, agentId: string, id: string): Promise<JobList> {
  const { lease, sbx } = await openLease(ctx, agentId, id, 'job_list');
  // At most 100 jobs of about 6 KB each (the command's first 4 KiB as base64, and the state).
  const r = await runBounded(sbx, jobListScript(), { envs: { GS_JOBS: jobsDir(lease) }, timeoutMs: 30_000, maxChars: 1_048_576 });
  if (r.exitCode !== 0 || r.overflow) throw new AppError('SANDBOX_UNAVAILABLE', 'the job runner failed in the sandbox', { internal: r.stderr.slice(-2000) });
  const jobs: JobState[] = [];
  for (const block of r.stdout.split(/^(?=__GS_JOB_ID=)/m)) {
    const m = markers(block);
    if (m.JOB_ID && JOB_ID_PATTERN.test(m.JOB_ID)) jobs.push(stateOf(m.JOB_ID, m, ctx.cfg.MAX_OUTPUT_BYTES));
  }
  jobs.sort((a, b) => b.started_at.localeCompare(a.started_at));
  return { jobs };
}

/** Parses `since`: `N` for both streams, `N,M` for stdout and stderr. */
function parseSince(since: string | undefined): [number, number] {
  if (!since) return [0, 0];
  const [o, e = o] = since.split(',').map(Number);
  return [o, e];
}

/**
 * One stream's part: bytes from `from`, as text or base64. While more may follow (the job runs, or
 * this part stops short of what is kept), an incomplete character at the end is left for the next read.
 */
function chunkOf(b64: string | undefined, from: number, final: (next: number) => boolean): LogChunk {
  let bytes = fromBase64(b64 ?? '');
  const tail = incompleteTail(bytes);
  if (tail && !final(from + bytes.length)) bytes = bytes.subarray(0, bytes.length - tail);
  const next = from + bytes.length;
  return { offset: from, next_offset: next, ...(bytes.length ? pieceOf(bytes) : { text: '' }) };
}

/** The job's state and the next part of its stdout and stderr from `since`, at most `max_bytes` each. */
export async function jobLogs(ctx: ServiceContext, agentId: string, id: string, jobId: string, q: JobLogsQuery): Promise<JobLogs> {
  assertJobId(id, jobId);
  const cap = ctx.cfg.MAX_OUTPUT_BYTES;
  const max = Math.min(q.max_bytes, cap);
  const [outFrom, errFrom] = parseSince(q.since);
  const { lease, sbx } = await openLease(ctx, agentId, id, 'job_logs');
  const envs = { GS_OUT_FROM: String(outFrom), GS_ERR_FROM: String(errFrom), GS_MAX: String(max), GS_CAP: String(cap) };
  const m = await jobScript(sbx, lease, jobId, jobLogsScript(), envs, 2 * Math.ceil((max * 4) / 3) + 65_536);
  const job = stateOf(jobId, m, cap);
  const ended = job.status === 'exited';
  const stdout = chunkOf(m.OUTDATA, outFrom, (next) => ended && next >= job.stdout_bytes);
  const stderr = chunkOf(m.ERRDATA, errFrom, (next) => ended && next >= job.stderr_bytes);
  return {
    job,
    stdout,
    stderr,
    next_since: `${stdout.next_offset},${stderr.next_offset}`,
    more: stdout.next_offset < job.stdout_bytes || stderr.next_offset < job.stderr_bytes,
  };
}
