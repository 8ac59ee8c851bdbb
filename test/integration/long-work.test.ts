// Long work is not silent: exec output streamed as server-sent events while the command runs, MCP
// exec progress notifications ahead of the result, background jobs (logs by offset, kill, owner
// only), shallow clones that still push, and leases whose clone goes on after the answer.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { PoolCoordinator } from '../../src/durable/pool-coordinator.ts';
import { parseRepoUrl } from '../../src/git/validate.ts';
import { call, callJson, newAgent, newRepo, remoteGit } from './helpers.ts';

const MAX_OUTPUT_BYTES = 1_048_576;
const pool = () => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));

async function lease(key: string, repoUrl: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}`, ...extra } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.id;
}

async function exec(key: string, id: string, command: string): Promise<string> {
  const r = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command } });
  expect(r.body.exit_code, r.body.stderr).toBe(0);
  return r.body.stdout;
}

/** One server-sent event and when it arrived (ms after the request was sent). */
interface Event {
  event: string;
  data: any;
  at: number;
}

/** Reads a whole event stream, timing each event as it arrives. */
async function readEvents(res: Response, t0: number): Promise<Event[]> {
  const events: Event[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event) events.push({ event, data: data ? JSON.parse(data) : null, at: Date.now() - t0 });
    }
  }
  return events;
}

async function execStream(key: string, id: string, body: Record<string, unknown>): Promise<{ res: Response; events: Event[] }> {
  const t0 = Date.now();
  const res = await call('POST', `/v1/sandboxes/${id}/exec`, { key, body, headers: { accept: 'text/event-stream' } });
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) return { res, events: [] };
  return { res, events: await readEvents(res, t0) };
}

const output = (events: Event[], stream: string) => events.filter((e) => e.event === stream).map((e) => e.data.text ?? atob(e.data.base64)).join('');

async function connect(key: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('http://worker.test/mcp'), {
    fetch: (url, init) => exports.default.fetch(new Request(url, init)),
    requestInit: { headers: { authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name: 'long-work-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('exec as server-sent events', () => {
  it('streams the first line while the command still runs, then the exit', async () => {
    const { key } = await newAgent('sse');
    const id = await lease(key, (await newRepo()).url);
    const { res, events } = await execStream(key, id, { command: 'echo first; sleep 2; echo second; echo oops >&2; exit 3' });
    expect(res.status).toBe(200);
    const first = events.find((e) => e.event === 'stdout' && e.data.text.includes('first'))!;
    const second = events.find((e) => e.event === 'stdout' && e.data.text.includes('second'))!;
    expect(first, JSON.stringify(events)).toBeDefined();
    // Printed two seconds apart, and each handed over as it was printed.
    expect(second.at - first.at).toBeGreaterThan(1800);
    expect(output(events, 'stdout')).toBe('first\nsecond\n');
    expect(output(events, 'stderr')).toBe('oops\n');
    expect(events.at(-1)).toMatchObject({ event: 'exit', data: { exit_code: 3, timed_out: false, truncated: false } });
    // JSON stays the default.
    expect((await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command: 'echo plain' } })).body).toMatchObject({ exit_code: 0, stdout: 'plain\n' });
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('sends bytes that are not UTF-8 as base64, and keeps characters split across reads as text', async () => {
    const { key } = await newAgent('sse');
    const id = await lease(key, (await newRepo()).url);
    const { events } = await execStream(key, id, { command: `printf '\\xff\\xfe\\x00'; sleep 0.3; printf '\\xc3'; sleep 0.3; printf '\\xa9\\n'` });
    const out = events.filter((e) => e.event === 'stdout');
    expect(out[0].data).toEqual({ base64: btoa('\xff\xfe\x00') });
    expect(out.filter((e) => e.data.text !== undefined).map((e) => e.data.text).join('')).toBe('é\n');
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('stops forwarding at MAX_OUTPUT_BYTES over both streams and says truncated', async () => {
    const { key } = await newAgent('sse');
    const id = await lease(key, (await newRepo()).url);
    const { events } = await execStream(key, id, { command: "head -c 3000000 /dev/zero | tr '\\0' a; head -c 3000000 /dev/zero | tr '\\0' b >&2; echo done" });
    const bytes = output(events, 'stdout').length + output(events, 'stderr').length;
    expect(bytes).toBe(MAX_OUTPUT_BYTES);
    expect(events.at(-1)).toMatchObject({ event: 'exit', data: { exit_code: 0, truncated: true } });
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('kills a command at its timeout and says timed_out', async () => {
    const { key } = await newAgent('sse');
    const id = await lease(key, (await newRepo()).url);
    const { events } = await execStream(key, id, { command: 'echo started; sleep 30', timeout_ms: 1000 });
    expect(output(events, 'stdout')).toBe('started\n');
    expect(events.at(-1)).toMatchObject({ event: 'exit', data: { exit_code: 124, timed_out: true } });
    expect((await exec(key, id, 'pgrep -fx "sleep 30" | wc -l')).trim()).toBe('0');
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it("answers another agent's lease with a plain 404, not a stream", async () => {
    const owner = await newAgent('sse');
    const other = await newAgent('sse');
    const id = await lease(owner.key, (await newRepo()).url);
    const { res } = await execStream(other.key, id, { command: 'echo hi' });
    expect(res.status).toBe(404);
    expect((await res.json() as any).error.code).toBe('NOT_FOUND');
    await call('DELETE', `/v1/sandboxes/${id}`, { key: owner.key });
  });
});

describe('mcp exec progress', () => {
  it('sends the output as progress notifications before the result', async () => {
    const { key } = await newAgent('mcp');
    const id = await lease(key, (await newRepo()).url);
    const client = await connect(key);
    const t0 = Date.now();
    const progress: { message?: string; progress: number; at: number }[] = [];
    const r = (await client.callTool({ name: 'exec', arguments: { id, command: 'echo first; sleep 2; echo second' } }, undefined, {
      onprogress: (p) => progress.push({ message: p.message, progress: p.progress, at: Date.now() - t0 }),
    })) as CallToolResult & { structuredContent?: any };
    const doneAt = Date.now() - t0;
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent).toMatchObject({ exit_code: 0, stdout: 'first\nsecond\n', truncated: false, timed_out: false });
    const first = progress.find((p) => p.message?.includes('first'));
    expect(first, JSON.stringify(progress)).toBeDefined();
    expect(doneAt - first!.at).toBeGreaterThan(1500);
    expect(progress.map((p) => p.progress)).toEqual([...progress.map((p) => p.progress)].sort((a, b) => a - b));
    // Without a progress token the answer is one JSON body, as before.
    const plain = (await client.callTool({ name: 'exec', arguments: { id, command: 'echo plain' } })) as CallToolResult & { structuredContent?: any };
    expect(plain.structuredContent).toMatchObject({ exit_code: 0, stdout: 'plain\n' });
    await client.close();
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });
});

describe('background jobs', () => {
  it('starts at once, reads logs by offset, and kills the job with everything it started', async () => {
    const { key } = await newAgent('job');
    const other = await newAgent('job');
    const id = await lease(key, (await newRepo()).url);
    const t0 = Date.now();
    const started = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command: 'for i in 1 2 3; do echo line$i; sleep 0.2; done; echo warn >&2; setsid sleep 300 & sleep 300', background: true } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const job = started.body.job_id;
    expect(job).toMatch(/^job_[0-9a-f]{24}$/);

    let logs: any;
    for (let i = 0; i < 50; i++) {
      logs = (await callJson('GET', `/v1/sandboxes/${id}/jobs/${job}/logs`, { key })).body;
      // The job's byte counts and its output files are read separately: wait until both show it all.
      if (logs.stderr.text === 'warn\n' && logs.job.stderr_bytes === 5 && logs.job.stdout_bytes === 18) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(logs.job).toMatchObject({ job_id: job, status: 'running', exit_code: null, stdout_bytes: 18, stderr_bytes: 5 });
    expect(logs.stdout).toEqual({ offset: 0, next_offset: 18, text: 'line1\nline2\nline3\n' });
    expect(logs.next_since).toBe('18,5');
    const part = (await callJson('GET', `/v1/sandboxes/${id}/jobs/${job}/logs?since=6&max_bytes=6`, { key })).body;
    expect(part.stdout).toEqual({ offset: 6, next_offset: 12, text: 'line2\n' });
    expect(part.more).toBe(true);
    const none = (await callJson('GET', `/v1/sandboxes/${id}/jobs/${job}/logs?since=${logs.next_since}`, { key })).body;
    expect(none).toMatchObject({ stdout: { offset: 18, next_offset: 18 }, stderr: { offset: 5, next_offset: 5 }, more: false });

    // Another agent sees nothing of it.
    expect((await callJson('GET', `/v1/sandboxes/${id}/jobs/${job}`, { key: other.key })).status).toBe(404);
    expect((await callJson('DELETE', `/v1/sandboxes/${id}/jobs/${job}`, { key: other.key })).status).toBe(404);
    expect((await callJson('GET', `/v1/sandboxes/${id}/jobs/job_000000000000000000000000`, { key })).status).toBe(404);

    const killed = await callJson('DELETE', `/v1/sandboxes/${id}/jobs/${job}`, { key });
    expect(killed.status).toBe(200);
    expect(killed.body).toMatchObject({ status: 'exited', exit_code: 137, killed: true });
    expect((await exec(key, id, `grep -lsxzF GS_JOB=${job} /proc/[0-9]*/environ | wc -l`)).trim()).toBe('0');
    expect((await callJson('GET', `/v1/sandboxes/${id}/jobs`, { key })).body.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([job]);
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('records the exit code of a job that ends by itself, and its timeout', async () => {
    const { key } = await newAgent('job');
    const id = await lease(key, (await newRepo()).url);
    const done = (await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command: 'echo bye; exit 7', background: true } })).body.job_id;
    const slow = (await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command: 'sleep 60', background: true, timeout_ms: 500 } })).body.job_id;
    let a: any;
    let b: any;
    for (let i = 0; i < 50; i++) {
      a = (await callJson('GET', `/v1/sandboxes/${id}/jobs/${done}`, { key })).body;
      b = (await callJson('GET', `/v1/sandboxes/${id}/jobs/${slow}`, { key })).body;
      if (a.status === 'exited' && b.status === 'exited') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(a).toMatchObject({ status: 'exited', exit_code: 7, killed: false, timed_out: false, stdout_bytes: 4, command: 'echo bye; exit 7' });
    expect(a.ended_at).toBeTruthy();
    expect(b).toMatchObject({ status: 'exited', exit_code: 124, timed_out: true });
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });

  it('runs, reads and kills jobs over MCP', async () => {
    const { key } = await newAgent('job');
    const id = await lease(key, (await newRepo()).url);
    const client = await connect(key);
    const started = (await client.callTool({ name: 'exec', arguments: { id, command: 'echo hello; sleep 300', background: true } })) as CallToolResult & { structuredContent?: any };
    expect(started.isError, text(started)).toBeFalsy();
    const job = started.structuredContent.job_id;
    let logs: any;
    for (let i = 0; i < 50; i++) {
      logs = await client.callTool({ name: 'job_logs', arguments: { id, job_id: job } });
      if (logs.structuredContent.stdout.text) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(logs.structuredContent).toMatchObject({ job: { status: 'running' }, stdout: { text: 'hello\n' }, next_since: '6,0' });
    expect(text(logs)).toContain('hello');
    const killed = (await client.callTool({ name: 'job_kill', arguments: { id, job_id: job } })) as CallToolResult & { structuredContent?: any };
    expect(killed.structuredContent).toMatchObject({ status: 'exited', killed: true });
    await client.close();
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
  });
});

describe('clone options', () => {
  it('leases a depth-1 clone that pushes to its agent branch and lands on the base', async () => {
    const { key } = await newAgent('shallow');
    const repo = await newRepo({ 'a.txt': 'a\n' });
    // Two more commits on main, landed by a full clone that is held meanwhile (so no member reuses its clone).
    const full = await lease(key, repo.url);
    for (const n of [1, 2]) {
      await call('PUT', `/v1/sandboxes/${full}/files/n${n}.txt`, { key, raw: `${n}\n` });
      expect((await callJson('POST', `/v1/sandboxes/${full}/push`, { key, body: { message: `n${n}`, target: 'base' } })).status).toBe(200);
    }
    const tip = (await remoteGit(repo.name, 'rev-parse', 'main')).trim();

    const id = await lease(key, repo.url, { clone: { depth: 1 } });
    expect((await exec(key, id, 'git rev-parse --is-shallow-repository; git rev-list --count HEAD')).split('\n').slice(0, 2)).toEqual(['true', '1']);
    await call('PUT', `/v1/sandboxes/${id}/files/shallow.txt`, { key, raw: 'from a shallow clone\n' });
    const own = await callJson('POST', `/v1/sandboxes/${id}/push`, { key, body: { message: 'shallow work' } });
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect((await remoteGit(repo.name, 'rev-parse', own.body.target_branch)).trim()).toBe(own.body.commit);
    const landed = await callJson('POST', `/v1/sandboxes/${id}/push`, { key, body: { message: 'shallow work', target: 'base' } });
    expect(landed.status, JSON.stringify(landed.body)).toBe(200);
    expect((await remoteGit(repo.name, 'rev-parse', 'main')).trim()).toBe(landed.body.commit);
    expect((await remoteGit(repo.name, 'rev-parse', 'main^')).trim()).toBe(tip);
    expect(await remoteGit(repo.name, 'show', 'main:shallow.txt')).toBe('from a shallow clone\n');

    // After both are scrubbed, a lease that asks for nothing has the whole history.
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
    await call('DELETE', `/v1/sandboxes/${full}`, { key });
    await pool().drain();
    const again = await lease(key, repo.url);
    expect((await exec(key, again, 'git rev-parse --is-shallow-repository; git rev-list --count HEAD')).split('\n').slice(0, 2)).toEqual(['false', '4']);
    await call('DELETE', `/v1/sandboxes/${again}`, { key });
  });

  it('leases a partial clone whose missing blobs come through the gateway on demand, and pushes', async () => {
    const { key } = await newAgent('partial');
    const repo = await newRepo({ 'a.txt': 'v1\n' });
    const full = await lease(key, repo.url);
    await call('PUT', `/v1/sandboxes/${full}/files/a.txt`, { key, raw: 'v2\n' });
    expect((await callJson('POST', `/v1/sandboxes/${full}/push`, { key, body: { message: 'v2', target: 'base' } })).status).toBe(200);

    const id = await lease(key, repo.url, { clone: { filter: 'blob:none' } });
    expect(await exec(key, id, 'git config remote.origin.promisor')).toBe('true\n');
    // The first version of a.txt did not come with the clone; the agent's git fetches it when asked.
    expect(await exec(key, id, 'git rev-list --objects --missing=print HEAD | grep -c "^?"')).toBe('1\n');
    expect(await exec(key, id, 'git show HEAD~1:a.txt')).toBe('v1\n');
    await call('PUT', `/v1/sandboxes/${id}/files/b.txt`, { key, raw: 'b\n' });
    const landed = await callJson('POST', `/v1/sandboxes/${id}/push`, { key, body: { message: 'from a partial clone', target: 'base' } });
    expect(landed.status, JSON.stringify(landed.body)).toBe(200);
    expect(await remoteGit(repo.name, 'show', 'main:b.txt')).toBe('b\n');
    await call('DELETE', `/v1/sandboxes/${id}`, { key });
    await call('DELETE', `/v1/sandboxes/${full}`, { key });
  });

  it('refuses clone options it does not know', async () => {
    const { key } = await newAgent('shallow');
    const repo = await newRepo();
    for (const clone of [{ depth: 0 }, { depth: 1.5 }, { filter: 'tree:0' }, { depth: 1, sparse: true }]) {
      const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repo.url, task_id: 'bad', clone } });
      expect(r.status, JSON.stringify(clone)).toBe(400);
      expect(r.body.error.field).toMatch(/^clone/);
    }
  });
});

describe('leases that answer before their clone is done', () => {
  it('answers wait: false with 202 initializing, then the lease turns ready', async () => {
    const { key } = await newAgent('async');
    const repo = await newRepo({ 'hello.txt': 'hi\n' });
    const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repo.url, task_id: 'bg', wait: false } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toMatchObject({ status: 'initializing', workdir: null });
    expect(r.headers.get('location')).toBe(`/v1/sandboxes/${r.body.id}`);
    expect((await callJson('POST', `/v1/sandboxes/${r.body.id}/exec`, { key, body: { command: 'true' } })).body.error?.code).toBe('LEASE_NOT_READY');
    let state: any;
    for (let i = 0; i < 100; i++) {
      state = (await callJson('GET', `/v1/sandboxes/${r.body.id}`, { key })).body;
      if (state.status !== 'initializing') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(state.status).toBe('ready');
    expect(state.workdir).toBeTruthy();
    expect(await exec(key, r.body.id, 'cat hello.txt')).toBe('hi\n');
    await call('DELETE', `/v1/sandboxes/${r.body.id}`, { key });
  });

  it('ends a background clone that fails in error, with the reason', async () => {
    const { key } = await newAgent('async');
    const repo = await newRepo();
    const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repo.url, task_id: 'bg', branch: 'no-such-branch', wait: false } });
    expect(r.status).toBe(202);
    let state: any;
    for (let i = 0; i < 100; i++) {
      state = (await callJson('GET', `/v1/sandboxes/${r.body.id}`, { key })).body;
      if (state.status !== 'initializing') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(state).toMatchObject({ status: 'error', error: { code: 'BRANCH_NOT_FOUND' } });
  });

  it('fails a lease whose clone was cut off (still initializing past the deadline)', async () => {
    const { agentId, key } = await newAgent('async');
    const repo = await newRepo();
    // A lease granted whose prepare never runs: what a Worker cut off mid-clone leaves.
    const parsed = parseRepoUrl(repo.url);
    const got = await pool().acquire({ agentId, taskId: 'cut', repoUrl: parsed.url, repoKey: parsed.key, branch: 'main', agentBranch: `agent/${agentId}/cut`, mode: 'pooled' });
    expect(got.ok).toBe(true);
    const id = got.ok ? got.lease.id : '';
    await runInDurableObject(pool(), async (_o: PoolCoordinator, state) => {
      state.storage.sql.exec('UPDATE leases SET created_at = created_at - 600000 WHERE id = ?', id);
    });
    const r = await callJson('GET', `/v1/sandboxes/${id}`, { key });
    expect(r.body).toMatchObject({ status: 'error', error: { code: 'CLONE_FAILED' } });
  });

  it('tells an MCP client that its clone goes on, and sandbox_get follows it to ready', async () => {
    const { key } = await newAgent('async');
    const repo = await newRepo();
    const client = await connect(key);
    const r = (await client.callTool({ name: 'git_clone', arguments: { repo_url: repo.url, task_id: 'mcp-bg', wait: false } })) as CallToolResult & { structuredContent?: any };
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent.status).toBe('initializing');
    expect(text(r)).toContain('sandbox_get');
    let s: any;
    for (let i = 0; i < 100; i++) {
      s = await client.callTool({ name: 'sandbox_get', arguments: { id: r.structuredContent.id } });
      if (s.structuredContent.status !== 'initializing') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(s.structuredContent.status).toBe('ready');
    await client.close();
    await call('DELETE', `/v1/sandboxes/${r.structuredContent.id}`, { key });
  });
});
