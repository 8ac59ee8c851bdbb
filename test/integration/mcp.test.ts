// The MCP server at /mcp, driven by the MCP SDK's own client over Streamable HTTP, routed into
// the Worker under test.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { call, callJson, newAgent, newRepo, remoteGit } from './helpers.ts';

const TOOLS = ['exec', 'file_read', 'file_write', 'files_write', 'git_clone', 'git_diff', 'git_log', 'git_pull', 'git_push', 'git_show', 'git_status', 'job_kill', 'job_logs', 'list_files', 'pull_request_status', 'sandbox_get', 'sandbox_list', 'sandbox_release', 'search'];

/**
 * An MCP client connected to the Worker, authenticated with `key` (none when omitted). It lists the
 * tools first, as real clients do, so the SDK client applies whatever it caches from the listing.
 */
async function connect(key?: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('http://worker.test/mcp'), {
    fetch: (url, init) => exports.default.fetch(new Request(url, init)),
    requestInit: key ? { headers: { authorization: `Bearer ${key}` } } : undefined,
  });
  const client = new Client({ name: 'git-sandbox-test', version: '1.0.0' });
  await client.connect(transport);
  await client.listTools();
  return client;
}

/** Calls a tool and returns its result with structured content typed loosely. */
async function tool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult & { structuredContent?: any }> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The text blocks of a result. */
function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

/** Leases a sandbox on `repoUrl` through git_clone and returns the lease id. */
async function clone(client: Client, repoUrl: string): Promise<string> {
  const r = await tool(client, 'git_clone', { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}` });
  expect(r.isError, text(r)).toBeFalsy();
  expect(r.structuredContent.id).toMatch(/^sbx_/);
  return r.structuredContent.id;
}

/** Releases each lease through its owner's client, then closes the clients. */
async function release(...leases: [Client, string][]): Promise<void> {
  await Promise.all(leases.map(([c, id]) => tool(c, 'sandbox_release', { id })));
  await Promise.all(leases.map(([c]) => c.close()));
}

describe('mcp', () => {
  it('lists every tool with a description on each input field', async () => {
    const client = await connect((await newAgent()).key);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    for (const t of tools) {
      expect(t.description, t.name).toBeTruthy();
      for (const [field, schema] of Object.entries(t.inputSchema.properties ?? {})) {
        expect((schema as { description?: string }).description, `${t.name}.${field}`).toBeTruthy();
      }
    }
    const push = tools.find((t) => t.name === 'git_push')!;
    expect(push.inputSchema.required).toEqual(expect.arrayContaining(['id', 'message']));
    await client.close();
  });

  it('clones, writes, inspects and lands a commit on the base branch', async () => {
    const { key } = await newAgent();
    const repo = await newRepo();
    const client = await connect(key);
    const id = await clone(client, repo.url);

    const w = await tool(client, 'file_write', { id, path: 'README.md', content: '# demo\n\nEdited over MCP.\n' });
    expect(w.structuredContent).toEqual({ path: 'README.md', bytes: 25 });
    const read = await tool(client, 'file_read', { id, path: 'README.md' });
    expect(read.structuredContent).toMatchObject({ content: '# demo\n\nEdited over MCP.\n', encoding: 'utf-8' });
    expect(text(read)).toBe('# demo\n\nEdited over MCP.\n');

    const st = await tool(client, 'git_status', { id });
    expect(st.structuredContent).toMatchObject({ modified: ['README.md'], clean: false });
    expect(text(st)).toContain('modified: README.md');

    const diff = await tool(client, 'git_diff', { id });
    expect(diff.structuredContent.files).toEqual([{ path: 'README.md', additions: 1, deletions: 1, binary: false }]);
    expect(diff.structuredContent.diff).toContain('+Edited over MCP.');
    expect(text(diff)).toContain('+Edited over MCP.');

    const push = await tool(client, 'git_push', { id, message: 'Edit README over MCP', target: 'base' });
    expect(push.isError, text(push)).toBeFalsy();
    expect(push.structuredContent).toMatchObject({ target_branch: 'main', committed: true });
    expect((await remoteGit(repo.name, 'rev-parse', 'main')).trim()).toBe(push.structuredContent.commit);
    expect(await remoteGit(repo.name, 'show', 'main:README.md')).toContain('Edited over MCP.');
    expect(await remoteGit(repo.name, 'log', '-1', '--format=%s', 'main')).toContain('Edit README over MCP');

    const out = await tool(client, 'exec', { id, command: 'git log -1 --format=%H' });
    expect(out.structuredContent).toMatchObject({ exit_code: 0, stdout: `${push.structuredContent.commit}\n` });

    const listed = await tool(client, 'sandbox_list');
    expect(listed.structuredContent.sandboxes.map((s: { id: string }) => s.id)).toContain(id);
    expect((await tool(client, 'sandbox_release', { id })).structuredContent).toEqual({ id, released: true });
    expect((await tool(client, 'sandbox_list')).structuredContent.sandboxes).toEqual([]);
    await client.close();
  });

  /** Two agents edit the same line of a fresh repo; a lands on base first. */
  async function conflictingEdits() {
    const repo = await newRepo({ 'shared.txt': 'original line\n' });
    const a = await connect((await newAgent()).key);
    const b = await connect((await newAgent()).key);
    const [ida, idb] = await Promise.all([clone(a, repo.url), clone(b, repo.url)]);
    await tool(a, 'file_write', { id: ida, path: 'shared.txt', content: 'line from agent a\n' });
    await tool(b, 'file_write', { id: idb, path: 'shared.txt', content: 'line from agent b\n' });
    const first = await tool(a, 'git_push', { id: ida, message: 'a', target: 'base' });
    expect(first.isError, text(first)).toBeFalsy();
    return { repo, a, b, ida, idb };
  }

  it('returns MERGE_CONFLICT as an isError result naming the path when two agents land the same line', async () => {
    const { repo, a, b, ida, idb } = await conflictingEdits();
    const second = await tool(b, 'git_push', { id: idb, message: 'b', target: 'base' });
    expect(second.isError).toBe(true);
    expect(second.structuredContent.error).toMatchObject({ code: 'MERGE_CONFLICT', conflicts: ['shared.txt'] });
    expect(text(second)).toMatch(/^MERGE_CONFLICT: .*shared\.txt/);
    expect(await remoteGit(repo.name, 'show', 'main:shared.txt')).toBe('line from agent a\n');
    await release([a, ida], [b, idb]);
  });

  it('lands the second agent after it resolves the conflict as the git_push description says', async () => {
    const { repo, a, b, ida, idb } = await conflictingEdits();
    expect((await tool(b, 'git_push', { id: idb, message: 'b', target: 'base' })).isError).toBe(true);
    const rebase = await tool(b, 'exec', { id: idb, command: 'git rebase origin/main' });
    expect(rebase.structuredContent.exit_code).not.toBe(0);
    expect((await tool(b, 'git_status', { id: idb })).structuredContent.conflicted).toEqual(['shared.txt']);
    await tool(b, 'file_write', { id: idb, path: 'shared.txt', content: 'line from agent a\nline from agent b\n' });
    const cont = await tool(b, 'exec', { id: idb, command: 'git add shared.txt && GIT_EDITOR=true git rebase --continue' });
    expect(cont.structuredContent.exit_code, text(cont)).toBe(0);
    const landed = await tool(b, 'git_push', { id: idb, message: 'b', target: 'base' });
    expect(landed.isError, text(landed)).toBeFalsy();
    expect(await remoteGit(repo.name, 'show', 'main:shared.txt')).toBe('line from agent a\nline from agent b\n');
    await release([a, ida], [b, idb]);
  });

  it('refuses initialize without a valid key with 401', async () => {
    for (const key of [undefined, 'gsk_not_a_key']) {
      const err = await connect(key).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StreamableHTTPError);
      expect((err as StreamableHTTPError).code).toBe(401);
    }
    const raw = await callJson('POST', '/mcp', {
      headers: { accept: 'application/json, text/event-stream' },
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } } },
    });
    expect(raw.status).toBe(401);
    expect(raw.body.error).toMatchObject({ code: -32001, data: { code: 'UNAUTHORIZED' } });
  });

  it("answers NOT_FOUND as an isError result for another agent's lease", async () => {
    const owner = await connect((await newAgent()).key);
    const other = await connect((await newAgent()).key);
    const id = await clone(owner, (await newRepo()).url);
    for (const [name, args] of [['git_status', { id }], ['file_read', { id, path: 'README.md' }], ['sandbox_release', { id }]] as const) {
      const r = await tool(other, name, args);
      expect(r.isError, name).toBe(true);
      expect(r.structuredContent.error.code, name).toBe('NOT_FOUND');
      expect(text(r)).toContain('NOT_FOUND');
    }
    expect((await tool(owner, 'git_status', { id })).isError).toBeFalsy();
    await tool(owner, 'sandbox_release', { id });
    await Promise.all([owner.close(), other.close()]);
  });

  it('returns service validation failures with their REST code', async () => {
    const client = await connect((await newAgent()).key);
    const id = await clone(client, (await newRepo()).url);
    const r = await tool(client, 'file_write', { id, path: '../escape.txt', content: 'x' });
    expect(r.isError).toBe(true);
    expect(r.structuredContent.error).toMatchObject({ code: 'INVALID_PATH', field: 'path' });
    await tool(client, 'sandbox_release', { id });
    await client.close();
  });

  it('answers GET and DELETE on /mcp with 405 (stateless server)', async () => {
    const { key } = await newAgent();
    for (const method of ['GET', 'DELETE']) {
      const r = await call(method, '/mcp', { key, headers: { accept: 'text/event-stream' } });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('POST');
    }
  });
});
