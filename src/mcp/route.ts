// /mcp: MCP over Streamable HTTP in stateless mode (a fresh server and transport per request),
// behind the same Bearer-key auth as REST (applied in routes/app.ts).
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import type { AppEnv } from '../routes/app-types.ts';
import { createMcpServer } from './server.ts';

/** The MCP sub-app: POST carries JSON-RPC; GET and DELETE (server streams, sessions) answer 405. */
export const mcpApp = new Hono<AppEnv>()
  .post('/mcp', async (c) => {
    const server = createMcpServer(c.var.svc, c.var.agentId);
    // JSON responses, not SSE: the whole exchange ends inside this request, so the per-request
    // service context (and its database handle) outlives every tool call it serves.
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
      maxRequestBodySize: c.var.svc.cfg.MAX_BODY_BYTES,
    });
    await server.connect(transport);
    try {
      return await transport.handleRequest(c.req.raw);
    } finally {
      await server.close();
    }
  })
  .on(['GET', 'DELETE'], '/mcp', (c) =>
    c.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this server is stateless; send JSON-RPC with POST' }, id: null }, 405, { Allow: 'POST' }),
  );
