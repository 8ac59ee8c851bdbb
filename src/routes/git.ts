// /v1/sandboxes/{id}/status|diff|pull|push|exec: git workflows and commands on the caller's lease.
import { createRoute, z } from '@hono/zod-openapi';
import { execCommand } from '../services/files.ts';
import { gitDiff, gitPull, gitStatus } from '../services/git-ops.ts';
import { gitPush } from '../services/push.ts';
import { ErrorBody, LeaseId, errorResponses, security, subApp } from './app-types.ts';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const params = z.object({ id: LeaseId });
const conflict = json(ErrorBody, 'MERGE_CONFLICT with `conflicts: [paths]` (rebase aborted, tree unchanged)');

export const Status = z
  .object({
    branch: z.string().nullable(),
    upstream: z.string().nullable(),
    ahead: z.number(),
    behind: z.number(),
    staged: z.array(z.string()),
    modified: z.array(z.string()),
    untracked: z.array(z.string()),
    conflicted: z.array(z.string()),
    clean: z.boolean(),
    truncated: z.boolean().describe('the status was cut at MAX_OUTPUT_BYTES; the lists hold only what fitted'),
  })
  .openapi('Status');

export const DiffQuery = z.object({
  against: z.enum(['head', 'index', 'base']).default('head').describe('head: working tree vs HEAD; index: staged; base: working tree vs origin/<branch>'),
  path: z.string().min(1).max(1024).optional().describe('limit to this repo-relative path'),
  max_bytes: z.coerce.number().int().min(1).max(10_485_760).default(262_144).describe('truncate the diff text at this many bytes'),
});

export const Diff = z
  .object({ diff: z.string(), files: z.array(z.object({ path: z.string(), additions: z.number(), deletions: z.number() })), truncated: z.boolean() })
  .openapi('Diff');

export const PushBody = z
  .object({
    message: z.string().min(1).max(10_000).describe('commit message for staged changes'),
    paths: z.array(z.string().min(1).max(1024)).max(1000).optional().describe('repo-relative paths to stage; default all changes'),
    target: z.enum(['agent_branch', 'base']).default('agent_branch').describe('agent_branch (default) or base to integrate'),
    author: z.object({ name: z.string().min(1).max(200), email: z.string().email().max(320) }).strict().optional().describe('commit author'),
  })
  .strict()
  .openapi('PushRequest');

export const PullResult = z.object({ head: z.string(), previous_head: z.string(), updated: z.boolean() }).openapi('PullResult');

export const PushResult = z
  .object({ commit: z.string(), target_branch: z.string(), attempts: z.number(), lock_wait_ms: z.number(), rebased: z.boolean(), committed: z.boolean(), batch_size: z.number() })
  .openapi('PushResult');

export const ExecBody = z
  .object({
    command: z.string().min(1).max(100_000).describe('bash command, run in the repository'),
    timeout_ms: z.number().int().min(100).max(3_600_000).optional().describe('kill after this long (capped by EXEC_TIMEOUT_MS)'),
  })
  .strict()
  .openapi('ExecRequest');

export const ExecResult = z
  .object({ exit_code: z.number(), stdout: z.string(), stderr: z.string(), truncated: z.boolean(), timed_out: z.boolean() })
  .openapi('ExecResult');

const status = createRoute({ method: 'get', path: '/v1/sandboxes/{id}/status', security, summary: 'Parsed git status', request: { params }, responses: { 200: json(Status, 'Status'), ...errorResponses } });
const diff = createRoute({ method: 'get', path: '/v1/sandboxes/{id}/diff', security, summary: 'Unified diff + numstat', request: { params, query: DiffQuery }, responses: { 200: json(Diff, 'Diff'), ...errorResponses } });
const pull = createRoute({
  method: 'post', path: '/v1/sandboxes/{id}/pull', security, summary: 'Fetch + rebase onto origin/<branch> (autostash)', request: { params },
  responses: { 200: json(PullResult, 'Rebased'), 409: conflict, ...errorResponses },
});
const push = createRoute({
  method: 'post', path: '/v1/sandboxes/{id}/push', security, summary: 'Commit, then land under the repo lock with rebase-retry (an Idempotency-Key replay gets the first answer)', request: { params, headers: z.object({ 'idempotency-key': z.string().max(200).optional().describe('a replay of this push with the same key returns the first answer') }), body: { required: true, content: { 'application/json': { schema: PushBody } } } },
  responses: { 200: json(PushResult, 'Landed'), 409: conflict, 423: json(ErrorBody, 'REPO_LOCKED (see Retry-After, position)'), ...errorResponses },
});
const exec = createRoute({
  method: 'post', path: '/v1/sandboxes/{id}/exec', security, summary: 'Run a command in the repository', request: { params, body: { required: true, content: { 'application/json': { schema: ExecBody } } } },
  responses: { 200: json(ExecResult, 'Finished (any exit code)'), ...errorResponses },
});

/** The git sub-app. */
export const gitApp = subApp()
  .openapi(status, async (c) => c.json(await gitStatus(c.var.svc, c.var.agentId, c.req.valid('param').id), 200))
  .openapi(diff, async (c) => {
    const q = c.req.valid('query');
    return c.json(await gitDiff(c.var.svc, c.var.agentId, c.req.valid('param').id, { against: q.against, path: q.path, maxBytes: q.max_bytes }), 200);
  })
  .openapi(pull, async (c) => c.json(await gitPull(c.var.svc, c.var.agentId, c.req.valid('param').id), 200))
  .openapi(push, async (c) => c.json(await gitPush(c.var.svc, c.var.agentId, c.req.valid('param').id, { ...c.req.valid('json'), idemKey: c.req.header('idempotency-key')?.slice(0, 200) }), 200))
  .openapi(exec, async (c) => {
    const b = c.req.valid('json');
    return c.json(await execCommand(c.var.svc, c.var.agentId, c.req.valid('param').id, b.command, b.timeout_ms), 200);
  });
