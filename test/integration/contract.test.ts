// The API contract as clients meet it: the served OpenAPI document (Redocly-clean, complete, the
// committed client/openapi.json), the /docs page, 401 challenges, 405 with Allow, Location on 201,
// and /mcp authentication failures that MCP clients can show.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import committed from '../../client/openapi.json';
import { call, callJson, env, newAgent, oracle, stack } from './helpers.ts';

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Every operation of `doc` with its path and method. */
function operations(doc: Json): { path: string; method: string; op: Json }[] {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json).filter(([m]) => METHODS.includes(m)).map(([method, op]) => ({ path, method, op: op as Json })),
  );
}

describe('the OpenAPI document', () => {
  it('lints clean with Redocly CLI (recommended ruleset, redocly.yaml)', async () => {
    const spec = (await callJson('GET', '/openapi.json')).body;
    const r = await oracle<{ errors: number; warnings: number; problems: unknown[]; output: string }>('POST', '/redocly/lint', { spec });
    expect(r.problems, r.output).toEqual([]);
    expect([r.errors, r.warnings]).toEqual([0, 0]);
  });

  it('names its server: PUBLIC_URL when set', async () => {
    const doc = (await callJson('GET', '/openapi.json')).body;
    expect(doc.servers).toEqual([{ url: env.PUBLIC_URL, description: 'this deployment' }]);
  });

  it('is the committed client/openapi.json, but for the server', async () => {
    const { servers: _s, ...served } = (await callJson('GET', '/openapi.json')).body;
    const { servers: _c, ...kept } = committed as Json;
    expect(served).toEqual(kept);
  });

  it('gives every operation an operationId, tags, a 4xx (but /healthz) and an error body on every error', async () => {
    const doc = (await callJson('GET', '/openapi.json')).body;
    const tags = new Set((doc.tags as { name: string }[]).map((t) => t.name));
    for (const { path, method, op } of operations(doc)) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.operationId, where).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.tags?.length, where).toBeGreaterThan(0);
      for (const t of op.tags) expect(tags.has(t), `${where} tag ${t}`).toBe(true);
      const statuses = Object.keys(op.responses).map(Number);
      if (path !== '/healthz') expect(statuses.some((s) => s >= 400 && s < 500), where).toBe(true);
      for (const s of statuses.filter((s) => s >= 400)) {
        const content = op.responses[s].content ?? {};
        expect(Object.keys(content), `${where} ${s}`).toEqual(['application/json']);
        if (s === 423 || s === 429 || s === 503) expect(op.responses[s].headers?.['Retry-After'], `${where} ${s}`).toBeTruthy();
        if (s === 401) expect(op.responses[s].headers?.['WWW-Authenticate'], `${where} ${s}`).toBeTruthy();
      }
      for (const s of statuses.filter((s) => s === 201)) expect(op.responses[s].headers?.Location, where).toBeTruthy();
      if (op.security?.length) expect(statuses, where).toEqual(expect.arrayContaining([401, 429]));
    }
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['admin', 'bearer', 'metrics']);
  });

  it('documents the files routes with the path as a parameter and raw-byte bodies', async () => {
    const doc = (await callJson('GET', '/openapi.json')).body;
    const item = doc.paths['/v1/sandboxes/{id}/files/{path}'];
    expect(Object.keys(item).sort()).toEqual(['delete', 'get', 'put']);
    for (const m of ['get', 'put', 'delete']) {
      const params = item[m].parameters as Json[];
      expect(params.map((p) => [p.name, p.in, p.required])).toEqual([['id', 'path', true], ['path', 'path', true]]);
      expect(params[1].description).toMatch(/slashes/);
    }
    expect(Object.keys(item.put.requestBody.content)).toEqual(['application/octet-stream']);
    expect(Object.keys(item.get.responses[200].content)).toEqual(['application/octet-stream']);
    expect(item.get.responses[200].headers['X-Truncated']).toBeTruthy();
  });
});

describe('/docs', () => {
  it('is the Redoc page built from the document, self-contained and with summaries escaped', async () => {
    // Static assets are served in front of the Worker, so the page is asked for over HTTP.
    const r = await fetch(`${env.PUBLIC_URL}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await r.text();
    expect(html).toContain('<title>git-sandbox API</title>');
    expect(html).toContain('/v1/sandboxes/{id}/push');
    expect(html).toContain('origin/&lt;branch&gt;');
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href="https?:/);
  });
});

describe('HTTP semantics', () => {
  it('answers 401 with a Bearer challenge naming the failure on every authenticated surface', async () => {
    const bad = () => ({ authorization: `Bearer gsk_bad_${crypto.randomUUID()}` });
    const cases: [string, string, Record<string, string>][] = [
      ['GET', '/v1/sandboxes', {}],
      ['GET', '/v1/sandboxes', bad()],
      ['GET', '/v1/operations', bad()],
      ['GET', '/v1/admin/pool', bad()],
      ['GET', '/metrics', bad()],
      ['POST', '/mcp', bad()],
    ];
    for (const [method, path, headers] of cases) {
      const r = await call(method, path, { headers: { ...headers, 'cf-connecting-ip': `192.0.2.${Math.floor(Math.random() * 250)}` } });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.headers.get('www-authenticate'), `${method} ${path}`).toMatch(/^Bearer realm="git-sandbox", error="invalid_token", error_description="[^"]+"$/);
    }
  });

  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const { key } = await newAgent('c405');
    const patch = await callJson('PATCH', '/v1/sandboxes/sbx_0123456789abcdef01234567', { key });
    expect(patch.status).toBe(405);
    expect(patch.headers.get('allow')).toBe('DELETE, GET, HEAD');
    expect(patch.body.error).toMatchObject({ code: 'METHOD_NOT_ALLOWED', allow: ['DELETE', 'GET', 'HEAD'] });
    const put = await call('PUT', '/healthz');
    expect([put.status, put.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect((await callJson('PATCH', '/v1/sandboxes/sbx_0123456789abcdef01234567/files/a/b.txt', { key })).headers.get('allow')).toBe('DELETE, GET, HEAD, PUT');
    expect((await callJson('GET', '/no/such/path')).status).toBe(404);
  });

  it('sets Location on 201 answers', async () => {
    const r = await callJson('POST', '/v1/admin/keys', { key: stack.admin_token, body: { agent_id: `loc-${crypto.randomUUID().slice(0, 8)}` } });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe(`/v1/admin/keys/${r.body.id}`);
    const rotated = await callJson('POST', `/v1/admin/keys/${r.body.id}/rotate`, { key: stack.admin_token, body: {} });
    expect(rotated.status).toBe(201);
    expect(rotated.headers.get('location')).toBe(`/v1/admin/keys/${rotated.body.id}`);
  });
});

describe('/mcp authentication', () => {
  /** Connects the MCP SDK client with `key`; resolves to the error it fails with. */
  async function connectError(key: string): Promise<Error> {
    const transport = new StreamableHTTPClientTransport(new URL('http://worker.test/mcp'), {
      fetch: (url, init) => exports.default.fetch(new Request(url, init)),
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    });
    const client = new Client({ name: 'contract-test', version: '1.0.0' });
    return client.connect(transport).then(
      () => {
        throw new Error('connected with a bad key');
      },
      (e: Error) => e,
    );
  }

  it('says the key is bad in a JSON-RPC error and a challenge with no OAuth metadata', async () => {
    const r = await callJson('POST', '/mcp', {
      headers: { authorization: 'Bearer gsk_wrong', accept: 'application/json, text/event-stream' },
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } } },
    });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({
      jsonrpc: '2.0', id: null,
      error: { code: -32001, message: 'UNAUTHORIZED: invalid or revoked API key', data: { code: 'UNAUTHORIZED', message: 'invalid or revoked API key' } },
    });
    const challenge = r.headers.get('www-authenticate') ?? '';
    expect(challenge).toBe('Bearer realm="git-sandbox", error="invalid_token", error_description="invalid or revoked API key"');
    expect(challenge).not.toMatch(/resource_metadata/);
    // Nothing to discover: no protected-resource or authorization-server metadata.
    for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-authorization-server']) {
      expect((await call('GET', p)).status, p).toBe(404);
    }
  });

  it('surfaces the reason through the MCP SDK client', async () => {
    expect((await connectError('gsk_wrong')).message).toContain('invalid or revoked API key');
  });

  it('advertises tool input limits that match the server limits', async () => {
    const { key } = await newAgent('lim');
    const r = await callJson('POST', '/mcp', {
      key,
      headers: { accept: 'application/json, text/event-stream' },
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    });
    const tools = Object.fromEntries((r.body.result.tools as Json[]).map((t) => [t.name, t.inputSchema]));
    const maxBody = Number(env.MAX_BODY_BYTES);
    expect(tools.file_write.properties.content.maxLength).toBe(maxBody);
    expect(tools.file_write.properties.content.description).toContain(`${maxBody} bytes (MAX_BODY_BYTES)`);
    expect(tools.git_diff.properties.max_bytes.maximum).toBe(Number(env.MAX_OUTPUT_BYTES));
  });
});
