// The wire contract of background jobs (exec with background: true): the job's state, its logs read
// by offset, and the ids and queries that name them. REST (src/routes/jobs.ts) and MCP share these.
import { z } from '@hono/zod-openapi';

/** What a job id looks like (`job_` + 24 hex digits). */
export const JOB_ID_PATTERN = /^job_[0-9a-f]{24}$/;

/** A job id path parameter. */
export const JobId = z.string().regex(JOB_ID_PATTERN, 'must be a job id like job_…').openapi({ param: { name: 'job_id', in: 'path' }, example: 'job_0123456789abcdef01234567' });

/** A job's state: running, or exited with its exit code (null when its runner was lost). */
export const JobState = z
  .object({
    job_id: z.string(),
    command: z.string().describe('the command (its first 4 KiB)'),
    status: z.enum(['running', 'exited']),
    exit_code: z.number().nullable().describe('null while running, or when the job\'s runner died without recording it'),
    killed: z.boolean().describe('ended by DELETE …/jobs/{job_id} (or job_kill)'),
    timed_out: z.boolean().describe('ended by its timeout_ms'),
    started_at: z.string(),
    ended_at: z.string().nullable(),
    stdout_bytes: z.number().describe('stdout kept so far (at most MAX_OUTPUT_BYTES)'),
    stderr_bytes: z.number().describe('stderr kept so far (at most MAX_OUTPUT_BYTES)'),
    truncated: z.boolean().describe('a stream passed MAX_OUTPUT_BYTES: what it printed past that was dropped'),
  })
  .openapi('JobState');
export type JobState = z.infer<typeof JobState>;

/** The answer of POST …/exec with background: true. */
export const JobStarted = z.object({ job_id: z.string(), status: z.literal('running'), started_at: z.string() }).openapi('JobStarted');
export type JobStarted = z.infer<typeof JobStarted>;

/** The caller's jobs in one lease. */
export const JobList = z.object({ jobs: z.array(JobState) }).openapi('JobList');
export type JobList = z.infer<typeof JobList>;

/** A stream offset cursor: `N` (both streams from byte N) or `N,M` (stdout from N, stderr from M). */
const Since = z
  .string()
  .regex(/^\d{1,10}(,\d{1,10})?$/, 'must be N or N,M (byte offsets; next_since of the previous answer)')
  .describe('byte offsets to read from: N for both streams, or N,M for stdout and stderr (next_since of the previous answer); default 0');

/** Query of GET …/jobs/{job_id}/logs. */
export const JobLogsQuery = z.object({
  since: Since.optional(),
  max_bytes: z.coerce.number().int().min(1).max(10_485_760).default(65_536).describe('most bytes of each stream in one answer (default 65536; at most MAX_OUTPUT_BYTES)'),
});
export type JobLogsQuery = z.infer<typeof JobLogsQuery>;

/** One stream's part of a logs answer: bytes [offset, next_offset) as UTF-8 text, or base64 when they are not text. */
export const LogChunk = z
  .object({
    offset: z.number(),
    next_offset: z.number(),
    text: z.string().optional(),
    base64: z.string().optional(),
  })
  .openapi('LogChunk');
export type LogChunk = z.infer<typeof LogChunk>;

/** The answer of GET …/jobs/{job_id}/logs: the job's state and the next part of each stream. */
export const JobLogs = z
  .object({
    job: JobState,
    stdout: LogChunk,
    stderr: LogChunk,
    next_since: z.string().describe('pass as since to read on'),
    more: z.boolean().describe('more output is already there past next_since'),
  })
  .openapi('JobLogs');
export type JobLogs = z.infer<typeof JobLogs>;
