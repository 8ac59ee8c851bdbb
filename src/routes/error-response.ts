// The HTTP answer of an AppError: its status and JSON body, Retry-After when it has one, the Bearer
// challenge of a 401, and on /mcp a JSON-RPC error body instead of the REST one.
import type { Context } from 'hono';
import type { AppError } from '../errors.ts';
import { jsonRpcErrorBody } from '../mcp/http-errors.ts';
import type { AppEnv } from './app-types.ts';

/**
 * The WWW-Authenticate value of a 401 (RFC 6750). It names the failure (`invalid_token` with the
 * reason) even when no key was sent, and carries no `resource_metadata`: this service has no OAuth,
 * and an MCP client that sees a resource-metadata hint starts OAuth discovery instead of reporting
 * the bad key.
 */
export function bearerChallenge(message: string): string {
  const description = message.replace(/…/g, '...').replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '');
  return `Bearer realm="git-sandbox", error="invalid_token", error_description="${description}"`;
}

/** Whether `path` is the MCP endpoint. */
function isMcp(path: string): boolean {
  return path === '/mcp' || path.startsWith('/mcp/');
}

/** Answers `e` on `c`. */
export function errorResponse(c: Context<AppEnv>, e: AppError): Response {
  if (e.retryAfterS) c.header('Retry-After', String(e.retryAfterS));
  if (e.code === 'UNAUTHORIZED') c.header('WWW-Authenticate', bearerChallenge(e.message));
  return c.json(isMcp(c.req.path) ? jsonRpcErrorBody(e) : e.toBody(), e.status);
}
