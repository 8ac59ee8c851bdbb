// Hono environment shared by every sub-app, the validation hook and the common OpenAPI pieces.
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { ErrorBody } from '../contract.ts';
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

/** Common error responses for OpenAPI. */
export const errorResponses = {
  400: { description: 'Invalid input', content: { 'application/json': { schema: ErrorBody } } },
  401: { description: 'Missing or invalid API key', content: { 'application/json': { schema: ErrorBody } } },
  404: { description: 'Not found (or another agent\'s lease)', content: { 'application/json': { schema: ErrorBody } } },
  410: { description: 'Lease expired or ended', content: { 'application/json': { schema: ErrorBody } } },
} as const;

/** The Bearer-key security requirement of the agent routes. */
export const security = [{ bearer: [] as string[] }];
