// /mcp: MCP over Streamable HTTP in stateless mode (a fresh server and transport per request),
// behind the same Bearer-key auth as REST (applied in routes/app.ts). Answers are JSON, or SSE for
// a request that carries a progressToken (see response-mode.ts).
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import type { AppEnv } from '../routes/app-types.ts';
import { readJsonRpc, streamAnswer, wantsProgressStream } from './response-mode.ts';
import { createMcpServer } from './server.ts';

/** The MCP sub-app: POST carries JSON-RPC; GET and DELETE (server streams, sessions) answer 405. */
export const mcpApp = new Hono<AppEnv>()
  .post('/mcp', async (c) => {
    const svc = c.var.svc;
    const server = createMcpServer(svc, c.var.agentId);
    const body = await readJsonRpc(c.req.raw);
    // JSON responses, unless a request asks for progress: then SSE, whose answer outlives this
    // handler, so the server closes (and the service context with it) when the stream ends.
    const stream = wantsProgressStream(c.req.header('accept'), body);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: !stream,
      maxRequestBodySize: svc.cfg.MAX_BODY_BYTES,
    });
    await server.connect(transport);
    let res: Response;
    try {
      res = await transport.handleRequest(c.req.raw, body === undefined ? undefined : { parsedBody: body });
    } catch (e) {
      await server.close();
      throw e;
    }
    if (stream && res.headers.get('content-type')?.startsWith('text/event-stream')) return streamAnswer(svc, res, () => server.close());
    await server.close();
    return res;
  })
  .on(['GET', 'DELETE'], '/mcp', (c) =>
    c.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this server is stateless; send JSON-RPC with POST' }, id: null }, 405, { Allow: 'POST' }),
  );
