// Hono environment shared by every sub-app, the validation hook and the common zod schemas.
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../errors.ts';
import type { ServiceContext } from '../services/context.ts';

/** Hono env: bindings plus the per-request service context and the authenticated agent. */
export type AppEnv = { Bindings: Env; Variables: { svc: ServiceContext; agentId: string } };

/** Turns a zod failure into a 400 naming the field and the reason. */
export function validationError(error: z.ZodError): AppError {
  const first = error.issues[0];
  const field = first?.path.join('.') || 'body';
  return new AppError('BAD_REQUEST', `${field}: ${first?.message ?? 'invalid input'}`, {
    details: { field, issues: error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.'), message: i.message })) },
  });
}

/** A sub-app whose validation failures go through the one error path. */
export function subApp(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error as z.ZodError);
    },
  });
}

/** The error body every failure shares. */
export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string() }).passthrough() })
  .openapi('Error');

/** Common error responses for OpenAPI. */
export const errorResponses = {
  400: { description: 'Invalid input', content: { 'application/json': { schema: ErrorBody } } },
  401: { description: 'Missing or invalid API key', content: { 'application/json': { schema: ErrorBody } } },
  404: { description: 'Not found (or another agent\'s lease)', content: { 'application/json': { schema: ErrorBody } } },
  410: { description: 'Lease expired or ended', content: { 'application/json': { schema: ErrorBody } } },
} as const;

/** What a lease id looks like (`sbx_` + 24 hex digits). */
export const LEASE_ID_PATTERN = /^sbx_[0-9a-f]{24}$/;

export const LeaseId = z.string().regex(LEASE_ID_PATTERN, 'must be a lease id like sbx_…').openapi({ param: { name: 'id', in: 'path' }, example: 'sbx_0123456789abcdef01234567' });

export const Lease = z
  .object({
    id: z.string(),
    agent_id: z.string(),
    task_id: z.string(),
    repo_url: z.string(),
    branch: z.string(),
    agent_branch: z.string(),
    status: z.string(),
    workdir: z.string().nullable(),
    created_at: z.string(),
    expires_at: z.string(),
    lease_source: z.enum(['warm', 'affinity', 'cold']),
    mode: z.enum(['pooled', 'direct']),
  })
  .openapi('Lease');

export const security = [{ bearer: [] as string[] }];
