// The background-job MCP tools (jobs start with exec background: true): job_logs reads a job's
// state and output by offset, job_kill ends it; each calls the same service as its REST route.
import { z } from '@hono/zod-openapi';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { JOB_ID_PATTERN, JobLogs, JobLogsQuery, JobState } from '../contract-jobs.ts';
import { LEASE_ID_PATTERN } from '../contract.ts';
import type { ServiceContext } from '../services/context.ts';
import { jobLogs, killJob } from '../services/jobs.ts';
import * as R from './render-jobs.ts';
import { toolResult } from './results.ts';

const id = z.string().regex(LEASE_ID_PATTERN, 'must be a lease id like sbx_…').describe('lease id returned by git_clone (sbx_…)');
const jobId = z.string().regex(JOB_ID_PATTERN, 'must be a job id like job_…').describe('job id returned by exec with background true (job_…)');

/** Input of job_logs. */
const JobLogsInput = {
  id,
  job_id: jobId,
  since: JobLogsQuery.shape.since,
  max_bytes: z.number().int().min(1).max(10_485_760).default(65_536).describe('most bytes of each stream in one answer (default 65536; at most MAX_OUTPUT_BYTES)'),
};

/** Registers the job tools on `server`, bound to the authenticated agent. */
export function registerJobTools(server: McpServer, svc: ServiceContext, agentId: string): void {
  const log = svc.log;

  server.registerTool(
    'job_logs',
    {
      title: 'Read a background job',
      description: 'State (running, or exited with exit_code) and output of a background job started by exec with background true: stdout and stderr from the byte offsets in since (default the start), at most max_bytes of each. Pass next_since as since to read on; more says output is already waiting.',
      inputSchema: JobLogsInput,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async ({ id: lease, job_id, since, max_bytes }) => toolResult(log, 'job_logs', JobLogs, () => jobLogs(svc, agentId, lease, job_id, { since, max_bytes }), R.jobLogs),
  );

  server.registerTool(
    'job_kill',
    {
      title: 'Kill a background job',
      description: 'Kills a background job and every process it started, and returns its state once it has ended. A job that already ended is left as it is.',
      inputSchema: { id, job_id: jobId },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ id: lease, job_id }) => toolResult(log, 'job_kill', JobState, () => killJob(svc, agentId, lease, job_id), R.jobState),
  );
}
