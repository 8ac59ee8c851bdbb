// Text renderings of the job tools' results: the job's state in one line, and its output itself.
import type { JobLogs, JobStarted, JobState, LogChunk } from '../contract-jobs.ts';

/** A job that was just started. */
export function jobStarted(j: JobStarted): string {
  return `Started background job ${j.job_id}. Read its output with job_logs (id, job_id "${j.job_id}", since from next_since), stop it with job_kill.`;
}

/** A job's state in one line. */
export function jobState(j: JobState): string {
  const how = j.status === 'running' ? 'running' : `exited ${j.exit_code ?? '(exit code unknown: its runner was lost)'}${j.killed ? ', killed' : ''}${j.timed_out ? ', timed out' : ''}`;
  return `Job ${j.job_id} ${how}; ${j.stdout_bytes} bytes of stdout, ${j.stderr_bytes} of stderr${j.truncated ? ' (cut at MAX_OUTPUT_BYTES)' : ''}.`;
}

const body = (c: LogChunk) => (c.text !== undefined ? c.text : `[${c.next_offset - c.offset} bytes, not UTF-8; base64 in structuredContent]`);

/** A job's state, then the output read this time. */
export function jobLogs(l: JobLogs): string {
  let text = `${jobState(l.job)} Read up to next_since "${l.next_since}"${l.more ? '; more is there already' : ''}.`;
  if (l.stdout.next_offset > l.stdout.offset) text += `\n--- stdout ---\n${body(l.stdout)}`;
  if (l.stderr.next_offset > l.stderr.offset) text += `\n--- stderr ---\n${body(l.stderr)}`;
  return text;
}
