// HTTP contract helpers: 405 lookups, the Bearer challenge, JSON-RPC error bodies on /mcp, and
// the Markdown escaping of the docs page.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { jsonRpcErrorBody } from '../../src/mcp/http-errors.ts';
import { bearerChallenge } from '../../src/routes/error-response.ts';
import { allowedMethods } from '../../src/routes/method-not-allowed.ts';
import { escapeDescriptions, escapeMarkdownHtml } from '../../scripts/docs-markdown.ts';

describe('allowed methods', () => {
  const app = new Hono();
  app.use('*', async (_c, next) => next());
  app.get('/v1/sandboxes/:id', (c) => c.text('')).delete('/v1/sandboxes/:id', (c) => c.text(''));
  app.put('/v1/sandboxes/:id/files/*', (c) => c.text(''));
  app.all('/git/*', (c) => c.text(''));
  const allowed = allowedMethods(app);

  it('lists the methods of every route matching the path, HEAD with GET', () => {
    expect(allowed('/v1/sandboxes/sbx_1')).toEqual(['DELETE', 'GET', 'HEAD']);
    expect(allowed('/v1/sandboxes/sbx_1/files/a/b.txt')).toEqual(['PUT']);
  });

  it('knows no method for unknown paths, middleware or catch-all routes', () => {
    expect(allowed('/nope')).toEqual([]);
    expect(allowed('/git/x')).toEqual([]);
  });
});

describe('bearer challenge', () => {
  it('names the failure and carries no OAuth resource metadata', () => {
    const h = bearerChallenge('invalid or revoked API key');
    expect(h).toBe('Bearer realm="git-sandbox", error="invalid_token", error_description="invalid or revoked API key"');
    expect(h).not.toMatch(/resource_metadata/);
  });

  it('keeps the description a valid quoted string of printable ASCII', () => {
    expect(bearerChallenge('bad "key" \\ like sbx_… \u00e9')).toBe('Bearer realm="git-sandbox", error="invalid_token", error_description="bad \'key\' \' like sbx_... "');
  });
});

describe('JSON-RPC error body', () => {
  it('says what is wrong in the message and keeps the REST body in data', () => {
    expect(jsonRpcErrorBody(new AppError('UNAUTHORIZED', 'invalid or revoked API key'))).toEqual({
      jsonrpc: '2.0', id: null,
      error: { code: -32001, message: 'UNAUTHORIZED: invalid or revoked API key', data: { code: 'UNAUTHORIZED', message: 'invalid or revoked API key' } },
    });
    expect(jsonRpcErrorBody(new AppError('RATE_LIMITED', 'slow down')).error.code).toBe(-32000);
  });
});

describe('docs markdown', () => {
  it('escapes HTML-significant characters outside code spans', () => {
    expect(escapeMarkdownHtml('onto origin/<branch> & `a <b>` then <c>')).toBe('onto origin/&lt;branch&gt; &amp; `a <b>` then &lt;c&gt;');
  });

  it('escapes only description strings, at any depth', () => {
    expect(escapeDescriptions({ summary: '<s>', a: [{ description: '<d>', properties: { description: { type: 'string', description: 'x<y' } } }] })).toEqual({
      summary: '<s>', a: [{ description: '&lt;d&gt;', properties: { description: { type: 'string', description: 'x&lt;y' } } }],
    });
  });
});
