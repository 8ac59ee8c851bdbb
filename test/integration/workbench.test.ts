// The agent's workbench over REST and MCP against real git in a leased sandbox: git_log, git_show,
// list_files, search, git_diff against a ref, and files_write (all or nothing).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { call, callJson, newAgent, newRepo } from './helpers.ts';

const MAX_OUTPUT_BYTES = 1_048_576;
const FILES = { 'README.md': '# demo\n', 'src/app.ts': 'export const greet = () => foo(1);\n', 'src/lib/util.ts': 'export function foo(n: number) { return n; }\n', 'docs/guide.md': '# Guide\nCall foo(1) to start.\n' };

async function lease(key: string, repoUrl: string): Promise<string> {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}` } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}

async function exec(key: string, id: string, command: string): Promise<string> {
  const r = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command } });
  expect(r.body.exit_code, r.body.stderr).toBe(0);
  return r.body.stdout;
}

const get = (key: string, id: string, what: string, query: Record<string, string | number | boolean> = {}) =>
  callJson('GET', `/v1/sandboxes/${id}/${what}?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`, { key });

async function connect(key: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('http://worker.test/mcp'), {
    fetch: (url, init) => exports.default.fetch(new Request(url, init)),
    requestInit: { headers: { authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: 'workbench-test', version: '1.0.0' });
  await client.connect(transport);
  await client.listTools();
  return client;
}

async function tool(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult & { structuredContent?: any }> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('workbench over REST', () => {
  it('lists commits, shows one in full, and refuses ranges that are options or name nothing', async () => {
    const { key } = await newAgent('wb');
    const id = await lease(key, (await newRepo(FILES)).url);
    await exec(key, id, 'printf "export const greet = () => foo(2);\\n" > src/app.ts && git commit -qam "Use foo(2)" -m "The body explains why." && git rm -q docs/guide.md && git commit -qm "Drop the guide"');

    const log = await get(key, id, 'log');
    expect(log.status, JSON.stringify(log.body)).toBe(200);
    expect(log.body.truncated).toBe(false);
    expect(log.body.commits.map((c: { subject: string }) => c.subject).slice(0, 2)).toEqual(['Drop the guide', 'Use foo(2)']);
    expect(log.body.commits[0]).toMatchObject({ sha: expect.stringMatching(/^[0-9a-f]{40}$/), author_name: expect.any(String), author_email: expect.any(String), date: expect.stringMatching(/^\d{4}-/) });
    expect((await get(key, id, 'log', { range: 'HEAD~2..HEAD' })).body.commits).toHaveLength(2);
    expect((await get(key, id, 'log', { path: 'src/app.ts', limit: 1 })).body.commits.map((c: { subject: string }) => c.subject)).toEqual(['Use foo(2)']);
    for (const range of ['--all', '--output=/tmp/x', 'nope..HEAD', 'a\tb']) {
      const bad = await get(key, id, 'log', { range });
      expect(bad.status, range).toBe(400);
      expect(['INVALID_REF', 'BAD_REQUEST'], range).toContain(bad.body.error.code);
    }
    expect((await get(key, id, 'log', { limit: 501 })).status).toBe(400);

    const show = await get(key, id, 'show', { rev: 'HEAD~1' });
    expect(show.status, JSON.stringify(show.body)).toBe(200);
    expect(show.body).toMatchObject({ message: 'Use foo(2)\n\nThe body explains why.', parents: [log.body.commits[2].sha], truncated: false, files: [{ path: 'src/app.ts', additions: 1, deletions: 1, binary: false }] });
    expect(show.body.author).toMatchObject({ name: expect.any(String), email: expect.any(String), date: expect.any(String) });
    expect(show.body.committer.date).toMatch(/^\d{4}-/);
    expect(show.body.diff).toContain('+export const greet = () => foo(2);');
    expect((await get(key, id, 'show', { rev: '--output=/tmp/x' })).body.error.code).toBe('INVALID_REF');
    expect((await get(key, id, 'show', { rev: 'no-such-branch' })).body.error.code).toBe('INVALID_REF');
    expect((await get(key, id, 'show', { rev: 'HEAD', max_bytes: 10 })).body).toMatchObject({ truncated: true, diff: expect.any(String) });
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('lists and searches tracked and untracked files, never .git, and diffs against any ref', async () => {
    const { key } = await newAgent('wb');
    const id = await lease(key, (await newRepo(FILES)).url);
    await exec(key, id, 'mkdir -p notes && printf "foo(1) in an untracked note\\n" > notes/todo.txt && ln -s src/app.ts app-link');

    const root = await get(key, id, 'list-files', { depth: 1 });
    expect(root.status, JSON.stringify(root.body)).toBe(200);
    const paths = root.body.entries.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'src', 'docs', 'notes', 'app-link']));
    expect(paths.some((p: string) => p === '.git' || p.startsWith('.git/'))).toBe(false);
    expect(root.body.entries.find((e: { path: string }) => e.path === 'src')).toEqual({ path: 'src', type: 'dir', size: null });
    expect(root.body.entries.find((e: { path: string }) => e.path === 'app-link')).toMatchObject({ type: 'symlink' });
    const src = await get(key, id, 'list-files', { path: 'src' });
    expect(src.body.entries).toEqual([
      { path: 'src/app.ts', type: 'file', size: FILES['src/app.ts'].length },
      { path: 'src/lib', type: 'dir', size: null },
      { path: 'src/lib/util.ts', type: 'file', size: FILES['src/lib/util.ts'].length },
    ]);
    expect((await get(key, id, 'list-files', { glob: '*.txt' })).body.entries.map((e: { path: string }) => e.path)).toEqual(['notes/todo.txt']);
    expect((await get(key, id, 'list-files', { path: '.git' })).body.error.code).toBe('INVALID_PATH');
    expect((await get(key, id, 'list-files', { path: 'missing' })).body.error.code).toBe('FILE_NOT_FOUND');

    const found = await get(key, id, 'search', { pattern: 'foo(1)' });
    expect(found.status, JSON.stringify(found.body)).toBe(200);
    expect(found.body).toEqual({
      truncated: false,
      matches: [
        { path: 'docs/guide.md', line: 2, text: 'Call foo(1) to start.' },
        { path: 'notes/todo.txt', line: 1, text: 'foo(1) in an untracked note' },
        { path: 'src/app.ts', line: 1, text: 'export const greet = () => foo(1);' },
      ],
    });
    expect((await get(key, id, 'search', { pattern: 'function [a-z]+\\(', regex: true })).body.matches).toEqual([{ path: 'src/lib/util.ts', line: 1, text: FILES['src/lib/util.ts'].trim() }]);
    expect((await get(key, id, 'search', { pattern: 'FOO', ignore_case: true, glob: '*.ts', max_results: 1 })).body).toMatchObject({ truncated: true, matches: [{ path: 'src/app.ts' }] });
    expect((await get(key, id, 'search', { pattern: 'foo', path: 'docs' })).body.matches).toHaveLength(1);
    expect((await get(key, id, 'search', { pattern: 'a(b', regex: true })).body.error).toMatchObject({ code: 'BAD_REQUEST', field: 'pattern' });
    expect((await get(key, id, 'search', { pattern: '--all' })).body).toMatchObject({ matches: [], truncated: false });

    await exec(key, id, 'git add -A && git commit -qm "Add notes" && printf "changed\\n" > README.md');
    const wt = await get(key, id, 'diff', { ref: 'HEAD~1' });
    expect(wt.status, JSON.stringify(wt.body)).toBe(200);
    expect(wt.body.files.map((f: { path: string }) => f.path).sort()).toEqual(['README.md', 'app-link', 'notes/todo.txt']);
    const committed = await get(key, id, 'diff', { ref: 'HEAD~1..HEAD' });
    expect(committed.body.files.map((f: { path: string }) => f.path).sort()).toEqual(['app-link', 'notes/todo.txt']);
    expect((await get(key, id, 'diff', { ref: 'HEAD', against: 'index' })).body.files).toEqual([]);
    expect((await get(key, id, 'diff', { ref: '--cached' })).body.error.code).toBe('INVALID_REF');
    expect((await get(key, id, 'diff', { ref: 'nope' })).body.error.code).toBe('INVALID_REF');
    expect((await get(key, id, 'diff', { ref: 'HEAD', against: 'base' })).body.error.code).toBe('BAD_REQUEST');
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('keeps listings and searches within MAX_OUTPUT_BYTES and says they were truncated', async () => {
    const { key } = await newAgent('wb');
    const id = await lease(key, (await newRepo(FILES)).url);
    await exec(key, id, 'mkdir many && cd many && seq 30000 | sed "s/^/file-with-a-rather-long-name-to-fill-the-listing-/" | xargs touch && seq 20000 | sed "s/^/needle line /" > ../hay.txt');
    for (const [what, query] of [['list-files', { path: 'many' }], ['search', { pattern: 'needle', max_results: 1000 }]] as const) {
      const res = await call('GET', `/v1/sandboxes/${id}/${what}?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}`, { key });
      const body = await res.text();
      expect(res.status, body.slice(0, 300)).toBe(200);
      expect(body.length, what).toBeLessThanOrEqual(MAX_OUTPUT_BYTES + 1024);
      expect(JSON.parse(body).truncated, what).toBe(true);
    }
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('writes and deletes many files at once, and writes nothing when one path of the batch is bad', async () => {
    const { key } = await newAgent('wb');
    const id = await lease(key, (await newRepo(FILES)).url);
    const ok = await callJson('POST', `/v1/sandboxes/${id}/files`, {
      key,
      body: { files: [{ path: 'src/new.ts', content: 'export {};\n' }, { path: 'assets/logo.bin', content_base64: 'AAECAw==' }, { path: 'src/app.ts', content: 'replaced\n' }], delete: ['docs/guide.md'] },
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toEqual({ written: [{ path: 'src/new.ts', bytes: 11 }, { path: 'assets/logo.bin', bytes: 4 }, { path: 'src/app.ts', bytes: 9 }], deleted: ['docs/guide.md'] });
    expect(await (await call('GET', `/v1/sandboxes/${id}/files/src/app.ts`, { key })).text()).toBe('replaced\n');
    expect(new Uint8Array(await (await call('GET', `/v1/sandboxes/${id}/files/assets/logo.bin`, { key })).arrayBuffer())).toEqual(new Uint8Array([0, 1, 2, 3]));
    expect((await call('GET', `/v1/sandboxes/${id}/files/docs/guide.md`, { key })).status).toBe(404);

    const before = await exec(key, id, 'ln -s /tmp outside && git status --porcelain && git stash list && ls -A .git | sort');
    const batches = [
      { body: { files: [{ path: 'good.txt', content: 'x' }, { path: 'outside/evil.txt', content: 'x' }] }, code: 'INVALID_PATH' },
      { body: { files: [{ path: 'good.txt', content: 'x' }], delete: ['never-existed.txt'] }, code: 'FILE_NOT_FOUND' },
      { body: { files: [{ path: 'good.txt', content: 'x' }, { path: '../escape.txt', content: 'x' }] }, code: 'INVALID_PATH' },
      { body: { files: [{ path: 'good.txt', content: 'x' }, { path: '.git/hooks/pre-commit', content: 'x' }] }, code: 'INVALID_PATH' },
      { body: { files: [{ path: 'good.txt', content: 'x' }, { path: 'src', content: 'x' }] }, code: 'INVALID_PATH' },
    ];
    for (const b of batches) {
      const r = await callJson('POST', `/v1/sandboxes/${id}/files`, { key, body: { ...b.body, delete: [...(b.body.delete ?? []), 'README.md'] } });
      expect(r.status, JSON.stringify(r.body)).toBe(b.code === 'FILE_NOT_FOUND' ? 404 : 400);
      expect(r.body.error.code).toBe(b.code);
    }
    expect(await exec(key, id, 'git status --porcelain && git stash list && ls -A .git | sort')).toBe(before);
    expect(await exec(key, id, 'ls /tmp/evil.txt good.txt 2>&1 || true')).toContain('No such file');
    expect((await call('GET', `/v1/sandboxes/${id}/files/README.md`, { key })).status).toBe(200);

    const other = await newAgent('wb');
    expect((await callJson('POST', `/v1/sandboxes/${id}/files`, { key: other.key, body: { files: [{ path: 'x', content: 'x' }] } })).status).toBe(404);
    expect((await get(other.key, id, 'log')).status).toBe(404);
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('publishes every new route in the OpenAPI document with an operationId and tags', async () => {
    const doc = (await callJson('GET', '/openapi.json')).body;
    const ops: Record<string, [string, string]> = {
      gitLog: ['get', '/v1/sandboxes/{id}/log'],
      gitShow: ['get', '/v1/sandboxes/{id}/show'],
      listFiles: ['get', '/v1/sandboxes/{id}/list-files'],
      searchFiles: ['get', '/v1/sandboxes/{id}/search'],
      writeFiles: ['post', '/v1/sandboxes/{id}/files'],
      listLeaseOperations: ['get', '/v1/sandboxes/{id}/operations'],
      listOperations: ['get', '/v1/operations'],
      adminListKeys: ['get', '/v1/admin/keys'],
    };
    for (const [opId, [method, path]] of Object.entries(ops)) {
      expect(doc.paths[path]?.[method]?.operationId, path).toBe(opId);
      expect(doc.paths[path][method].tags?.length, path).toBeGreaterThan(0);
    }
    expect(doc.paths['/v1/sandboxes/{id}/diff'].get.parameters.map((p: { name: string }) => p.name)).toContain('ref');
  });
});

describe('workbench over MCP', () => {
  it('declares the read-only tools read-only and not destructive', async () => {
    const client = await connect((await newAgent('wbm')).key);
    const { tools } = await client.listTools();
    for (const name of ['git_log', 'git_show', 'list_files', 'search']) {
      const t = tools.find((x) => x.name === name);
      expect(t?.annotations, name).toMatchObject({ readOnlyHint: true, destructiveHint: false });
      for (const [field, schema] of Object.entries(t!.inputSchema.properties ?? {})) expect((schema as { description?: string }).description, `${name}.${field}`).toBeTruthy();
    }
    expect(tools.find((x) => x.name === 'git_diff')?.annotations?.readOnlyHint).toBe(true);
    expect(tools.find((x) => x.name === 'git_diff')?.inputSchema.properties).toHaveProperty('ref');
    expect(tools.find((x) => x.name === 'files_write')?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    await client.close();
  });

  it('logs, shows, lists, searches, diffs against a ref and writes a batch through the tools', async () => {
    const { key } = await newAgent('wbm');
    const client = await connect(key);
    const id = await lease(key, (await newRepo(FILES)).url);

    const w = await tool(client, 'files_write', { id, files: [{ path: 'src/mcp.ts', content: 'foo(1) over MCP\n' }, { path: 'bin/blob', content_base64: 'AP8=' }], delete: ['docs/guide.md'] });
    expect(w.isError, text(w)).toBeFalsy();
    expect(w.structuredContent).toEqual({ written: [{ path: 'src/mcp.ts', bytes: 16 }, { path: 'bin/blob', bytes: 2 }], deleted: ['docs/guide.md'] });
    await exec(key, id, 'git add -A && git commit -qm "Over MCP"');

    const log = await tool(client, 'git_log', { id, limit: 5 });
    expect(log.isError, text(log)).toBeFalsy();
    expect(log.structuredContent.commits[0].subject).toBe('Over MCP');
    expect(text(log)).toContain('Over MCP');

    const show = await tool(client, 'git_show', { id, rev: 'HEAD' });
    expect(show.isError, text(show)).toBeFalsy();
    expect(show.structuredContent.files).toEqual([
      { path: 'bin/blob', additions: 0, deletions: 0, binary: true },
      { path: 'docs/guide.md', additions: 0, deletions: 2, binary: false },
      { path: 'src/mcp.ts', additions: 1, deletions: 0, binary: false },
    ]);
    expect(text(show)).toContain('+foo(1) over MCP');

    const list = await tool(client, 'list_files', { id, path: 'src', depth: 1 });
    expect(list.structuredContent.entries.map((e: { path: string }) => e.path)).toEqual(['src/app.ts', 'src/lib', 'src/mcp.ts']);
    expect(text(list)).toContain('src/lib/');

    const found = await tool(client, 'search', { id, pattern: 'foo\\(1\\)', regex: true });
    expect(found.structuredContent.matches.map((m: { path: string }) => m.path)).toEqual(['src/app.ts', 'src/mcp.ts']);
    expect(text(found)).toContain('src/mcp.ts:1: foo(1) over MCP');

    const diff = await tool(client, 'git_diff', { id, ref: 'HEAD~1' });
    expect(diff.isError, text(diff)).toBeFalsy();
    expect(diff.structuredContent.files.map((f: { path: string }) => f.path)).toEqual(['bin/blob', 'docs/guide.md', 'src/mcp.ts']);

    const bad = await tool(client, 'files_write', { id, files: [{ path: 'fresh.txt', content: 'x' }, { path: 'src/app.ts/child', content: 'x' }] });
    expect(bad.isError).toBe(true);
    expect(bad.structuredContent.error.code).toBe('INVALID_PATH');
    expect((await tool(client, 'file_read', { id, path: 'fresh.txt' })).structuredContent.error.code).toBe('FILE_NOT_FOUND');
    expect((await tool(client, 'git_show', { id, rev: '--stat' })).structuredContent.error.code).toBe('INVALID_REF');

    await tool(client, 'sandbox_release', { id });
    await client.close();
  });
});
