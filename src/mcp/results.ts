// Turns service outcomes into MCP tool results: structured content plus a text rendering, and
// failures as `isError` results carrying the same error body (code, message, details) as REST.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from '@hono/zod-openapi';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../lib/log.ts';

/**
 * Runs a tool body: the value is shaped by `schema` (the same shape as the REST response, extra
 * fields dropped) and rendered to text by `render`; an error becomes an `isError` result.
 */
export async function toolResult<S extends z.ZodObject>(
  log: Logger,
  tool: string,
  schema: S,
  body: () => Promise<z.input<S>>,
  render: (v: z.output<S>) => string,
): Promise<CallToolResult> {
  try {
    const value = schema.parse(await body());
    return { content: [{ type: 'text', text: render(value) }], structuredContent: value as Record<string, unknown> };
  } catch (e) {
    return toolError(log, tool, e);
  }
}

/** An `isError` result with the REST error body as structured content and `CODE: message` as text. */
export function toolError(log: Logger, tool: string, err: unknown): CallToolResult {
  let e: AppError;
  if (isAppError(err)) e = err;
  else {
    log.error('mcp_tool_failed', { tool, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    e = new AppError('INTERNAL', 'internal error');
  }
  if (e.status >= 500) log.warn('mcp_tool_error', { tool, code: e.code, internal: e.internal?.slice(0, 500) });
  const body = e.toBody();
  if (e.retryAfterS !== undefined) body.error.retry_after_s ??= e.retryAfterS;
  const retry = e.retryAfterS !== undefined ? ` (retry after ${e.retryAfterS}s)` : '';
  return { content: [{ type: 'text', text: `${e.code}: ${e.message}${retry}` }], structuredContent: body, isError: true };
}
