// /v1/sandboxes/{id}/status|diff|pull|push|exec: git workflows and commands on the caller's lease.
import { createRoute, z } from '@hono/zod-openapi';
import { execCommand } from '../services/files.ts';
import { startJob } from '../services/jobs.ts';
import { JobStarted } from '../contract-jobs.ts';
import { execEventStream, wantsEventStream } from './exec-events.ts';
import { gitDiff, gitPull, gitStatus } from '../services/git-ops.ts';
import { gitPush } from '../services/push.ts';
import { DiffRefQuery } from '../contract-read.ts';
import { Diff, ErrorBody, ExecBody, ExecResult, LeaseId, PullResult, PushBody, PushResult, Status } from '../contract.ts';
import { errorResponses, security, subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const params = z.object({ id: LeaseId });
const conflict = json(ErrorBody, 'MERGE_CONFLICT with `conflicts: [paths]` (rebase aborted, tree unchanged)');

const status = createRoute({ method: 'get', path: '/v1/sandboxes/{id}/status', operationId: 'gitStatus', tags: ['git'], security, summary: 'Parsed git status', request: { params }, responses: { 200: json(Status, 'Status'), ...errorResponses } });
const diff = createRoute({ method: 'get', path: '/v1/sandboxes/{id}/diff', operationId: 'gitDiff', tags: ['git'], security, summary: 'Unified diff + numstat (against HEAD, the index, the base, or any ref)', request: { params, query: DiffRefQuery }, responses: { 200: json(Diff, 'Diff'), ...errorResponses } });
const pull = createRoute({
  method: 'post', path: '/v1/sandboxes/{id}/pull', operationId: 'gitPull', tags: ['git'], security, summary: 'Fetch + rebase onto origin/<branch> (autostash)', request: { params },
  responses: { 200: json(PullResult, 'Rebased'), 409: conflict, ...errorResponses },
});
const push = createRoute({
  method: 'post', path: '/v1/sandboxes/{id}/push', operationId: 'gitPush', tags: ['git'], security, summary: 'Commit, then land under the repo lock with rebase-retry (an Idempotency-Key replay gets the first answer)', request: { params, headers: z.object({ 'idempotency-key': z.string().max(200).optional().describe('a replay of this push with the same key returns the first answer') }), body: { required: true, content: { 'application/json': { schema: PushBody } } } },
  responses: { 200: json(PushResult, 'Landed'), 409: conflict, 423: json(ErrorBody, 'REPO_LOCKED (see Retry-After, position)'), ...errorResponses },
});
const exec = createRoute({
  method: 'post', path: '/v1/sandboxes/{id}/exec', operationId: 'execCommand', tags: ['exec'], security, summary: 'Run a command in the repository', request: { params, body: { required: true, content: { 'application/json': { schema: ExecBody } } } },
  responses: {
    200: {
      description: 'Finished (any exit code). With `Accept: text/event-stream`, server-sent events as the command prints: `stdout` and `stderr` with data `{text}` (or `{base64}` when not UTF-8), then `exit` with `{exit_code, timed_out, truncated}` (or `error` with the error body)',
      content: { 'application/json': { schema: ExecResult }, 'text/event-stream': { schema: z.string() } },
    },
    202: json(JobStarted, 'background: true: the job started; follow it with GET …/jobs/{job_id} and …/logs'),
    ...errorResponses,
  },
});

/** The git sub-app. */
export const gitApp = subApp()
  .openapi(status, async (c) => c.json(await gitStatus(c.var.svc, c.var.agentId, c.req.valid('param').id), 200))
  .openapi(diff, async (c) => {
    const q = c.req.valid('query');
    return c.json(await gitDiff(c.var.svc, c.var.agentId, c.req.valid('param').id, { against: q.against, path: q.path, maxBytes: q.max_bytes, ref: q.ref }), 200);
  })
  .openapi(pull, async (c) => c.json(await gitPull(c.var.svc, c.var.agentId, c.req.valid('param').id), 200))
  .openapi(push, async (c) => c.json(await gitPush(c.var.svc, c.var.agentId, c.req.valid('param').id, { ...c.req.valid('json'), idemKey: c.req.header('idempotency-key')?.slice(0, 200) }), 200))
  .openapi(exec, async (c) => {
    const b = c.req.valid('json');
    const id = c.req.valid('param').id;
    if (b.background) return c.json(await startJob(c.var.svc, c.var.agentId, id, b), 202);
    if (wantsEventStream(c.req.header('accept'))) return execEventStream(c.var.svc, c.var.agentId, id, b);
    return c.json(await execCommand(c.var.svc, c.var.agentId, id, b.command, b.timeout_ms), 200);
  });
