// Placeholder until the MCP server lands: /mcp answers 501 with the error body.
import { Hono } from 'hono';
import { AppError } from '../errors.ts';
import type { AppEnv } from '../routes/app-types.ts';

export const mcpApp = new Hono<AppEnv>().all('/mcp', () => {
  throw new AppError('INTERNAL', 'MCP is not available yet');
});
