// /v1/sandboxes/{id}/jobs: background jobs of the caller's lease (started by POST …/exec with
// background: true): list, state, logs by offset, kill.
import { createRoute, z } from '@hono/zod-openapi';
import { JobId, JobList, JobLogs, JobLogsQuery, JobState } from '../contract-jobs.ts';
import { LeaseId } from '../contract.ts';
import { jobLogs, jobState, killJob, listJobs } from '../services/jobs.ts';
import { errorResponses, security, subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const lease = z.object({ id: LeaseId });
const params = z.object({ id: LeaseId, job_id: JobId });

const list = createRoute({
  method: 'get', path: '/v1/sandboxes/{id}/jobs', operationId: 'listJobs', tags: ['exec'], security,
  summary: "The lease's background jobs, newest first (at most 100)",
  request: { params: lease }, responses: { 200: json(JobList, 'Jobs'), ...errorResponses },
});
const get = createRoute({
  method: 'get', path: '/v1/sandboxes/{id}/jobs/{job_id}', operationId: 'getJob', tags: ['exec'], security,
  summary: 'A background job: running, or exited with its exit code',
  request: { params }, responses: { 200: json(JobState, 'The job'), ...errorResponses },
});
const logs = createRoute({
  method: 'get', path: '/v1/sandboxes/{id}/jobs/{job_id}/logs', operationId: 'getJobLogs', tags: ['exec'], security,
  summary: "A background job's stdout and stderr from byte offsets (since), at most max_bytes of each; next_since reads on",
  request: { params, query: JobLogsQuery }, responses: { 200: json(JobLogs, 'The job and its output'), ...errorResponses },
});
const kill = createRoute({
  method: 'delete', path: '/v1/sandboxes/{id}/jobs/{job_id}', operationId: 'killJob', tags: ['exec'], security,
  summary: 'Kill a background job and every process it started; answers its state once it has ended',
  request: { params }, responses: { 200: json(JobState, 'The job, ended'), ...errorResponses },
});

/** The jobs sub-app. */
export const jobsApp = subApp()
  .openapi(list, async (c) => c.json(await listJobs(c.var.svc, c.var.agentId, c.req.valid('param').id), 200))
  .openapi(get, async (c) => {
    const p = c.req.valid('param');
    return c.json(await jobState(c.var.svc, c.var.agentId, p.id, p.job_id), 200);
  })
  .openapi(logs, async (c) => {
    const p = c.req.valid('param');
    return c.json(await jobLogs(c.var.svc, c.var.agentId, p.id, p.job_id, c.req.valid('query')), 200);
  })
  .openapi(kill, async (c) => {
    const p = c.req.valid('param');
    return c.json(await killJob(c.var.svc, c.var.agentId, p.id, p.job_id), 200);
  });
