// The CLI's argument parsing and its server-sent events reader.
import { describe, expect, it } from 'vitest';
import { createClient } from '../../client/index.ts';
import { parseCommand, UsageError } from '../../cli/args.ts';
import { runCommand } from '../../cli/commands.ts';
import { readSse } from '../../cli/sse.ts';

const ID = 'sbx_0123456789abcdef01234567';
const task = () => 'cli-test';

describe('cli arguments', () => {
  it('parses lease with its options and a generated task id by default', () => {
    expect(parseCommand(['lease', 'https://github.com/a/b.git', '--branch', 'dev', '--ttl', '600'], task)).toEqual({
      name: 'lease', repoUrl: 'https://github.com/a/b.git', branch: 'dev', task: 'cli-test', agentBranch: undefined, ttlS: 600, json: false,
    });
    expect(parseCommand(['lease', 'u', '--task', 'fix-1', '--json'], task)).toMatchObject({ task: 'fix-1', json: true });
  });

  it('takes everything after -- as the exec command, flags included', () => {
    expect(parseCommand(['exec', ID, '--timeout', '5000', '--', 'git', 'log', '--oneline', '-n', '3'])).toEqual({
      name: 'exec', id: ID, command: 'git log --oneline -n 3', timeoutMs: 5000, json: false,
    });
  });

  it('parses push with -m, --base and repeated --path', () => {
    expect(parseCommand(['push', ID, '-m', 'fix: x', '--base', '--path', 'a.ts', '--path', 'b.ts'])).toEqual({
      name: 'push', id: ID, message: 'fix: x', base: true, paths: ['a.ts', 'b.ts'], json: false,
    });
    expect(parseCommand(['push', ID, '--message', 'm'])).toMatchObject({ base: false, paths: undefined });
  });

  it('parses ls, release, help and version', () => {
    expect(parseCommand(['ls'])).toEqual({ name: 'ls', json: false });
    expect(parseCommand(['release', ID])).toEqual({ name: 'release', id: ID });
    expect(parseCommand([])).toEqual({ name: 'help' });
    expect(parseCommand(['--version'])).toEqual({ name: 'version' });
  });

  it.each([
    [['frobnicate'], /unknown command/],
    [['lease'], /missing the repository URL/],
    [['exec', ID, 'ls'], /after --/],
    [['exec', ID, '--'], /empty/],
    [['exec', 'sbx_nope', '--', 'ls'], /not a lease id/],
    [['push', ID], /missing -m/],
    [['push', ID, '-m', 'x', '--force'], /Unknown option '--force'/],
    [['lease', 'u', '--ttl', '1.5'], /--ttl must be a positive integer/],
    [['release'], /missing the lease id/],
  ])('refuses %j with a usage error', (argv, message) => {
    expect(() => parseCommand(argv as string[], task)).toThrow(UsageError);
    expect(() => parseCommand(argv as string[], task)).toThrow(message);
  });
});

/** A byte stream that delivers `chunks` one by one. */
function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const s of chunks) c.enqueue(enc.encode(s));
      c.close();
    },
  });
}

describe('server-sent events reader', () => {
  it('frames events split across chunks, skipping comments', async () => {
    const got = [];
    for await (const m of readSse(stream(['event: std', 'out\ndata: {"text":"a"}\n', '\n: keep-alive\n\nevent: exit\r\ndata: {"exit_code":0}\r\n\r\n']))) got.push(m);
    expect(got).toEqual([
      { event: 'stdout', data: '{"text":"a"}' },
      { event: 'exit', data: '{"exit_code":0}' },
    ]);
  });

  it('joins multi-line data and names unnamed events "message"', async () => {
    const got = [];
    for await (const m of readSse(stream(['data: a\ndata: b\n\n']))) got.push(m);
    expect(got).toEqual([{ event: 'message', data: 'a\nb' }]);
  });
});

describe('cli exec', () => {
  /** Runs `exec` against a server that answers every request with `res`; returns what was printed. */
  async function run(res: () => Response) {
    const seen: Request[] = [];
    const client = createClient({ baseUrl: 'http://svc.test/', apiKey: 'gsk_k', fetch: async (req) => (seen.push(req), res()) });
    const out = { stdout: '', stderr: '' };
    const code = await runCommand(client, { name: 'exec', id: ID, command: 'make test', json: false }, { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t) });
    return { code, ...out, request: seen[0] };
  }

  it('asks for events and prints output as it streams, ending with the exit code', async () => {
    const sse = 'event: stdout\ndata: {"text":"building\\n"}\n\nevent: stderr\ndata: {"base64":"d2Fybgo="}\n\n: keep-alive\n\nevent: exit\ndata: {"exit_code":2,"timed_out":false,"truncated":false}\n\n';
    const r = await run(() => new Response(sse, { headers: { 'content-type': 'text/event-stream' } }));
    expect(r.request.url).toBe(`http://svc.test/v1/sandboxes/${ID}/exec`);
    expect(r.request.headers.get('accept')).toMatch(/^text\/event-stream/);
    expect(r.request.headers.get('authorization')).toBe('Bearer gsk_k');
    expect([r.code, r.stdout, r.stderr]).toEqual([2, 'building\n', 'warn\n']);
  });

  it('falls back to the JSON answer of a server without streaming', async () => {
    const body = { exit_code: 124, stdout: 'a\n', stderr: 'command timed out after 500 ms; it and every process it started were killed', truncated: false, timed_out: true };
    const r = await run(() => Response.json(body));
    expect([r.code, r.stdout, r.stderr]).toEqual([124, 'a\n', body.stderr]);
  });

  it('turns an error event into the service error', async () => {
    const sse = 'event: error\ndata: {"error":{"code":"SANDBOX_UNAVAILABLE","message":"the sandbox died"}}\n\n';
    await expect(run(() => new Response(sse, { headers: { 'content-type': 'text/event-stream' } }))).rejects.toThrow('SANDBOX_UNAVAILABLE: the sandbox died');
  });
});
