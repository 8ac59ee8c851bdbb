// The CLI's commands on top of the typed client: each one calls the API and writes what a person
// (or a shell script) needs; the returned number is the process's exit code.
import { GitSandboxError, unwrap, type ExecResult, type GitSandboxClient, type Lease } from '../client/index.ts';
import type { Command } from './args.ts';
import { readSse } from './sse.ts';

/** Where the commands write. */
export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** Writes a lease list as aligned columns. */
function table(leases: Lease[]): string {
  if (!leases.length) return '';
  const rows = leases.map((l) => [l.id, l.repo_url, `${l.branch} <- ${l.agent_branch}`, l.status, l.expires_at]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** Decodes one streamed output piece (`{text}` or `{base64}`). */
function pieceBytes(data: string): Uint8Array | string {
  const p = JSON.parse(data) as { text?: string; base64?: string };
  if (p.base64 !== undefined) return Uint8Array.from(atob(p.base64), (c) => c.charCodeAt(0));
  return p.text ?? '';
}

/**
 * Runs a command. It asks for server-sent events and prints output as it arrives; a server that
 * answers JSON instead (no streaming) gets its output printed at the end. The exit code is the
 * command's, 124 after a timeout.
 */
async function exec(client: GitSandboxClient, cmd: Extract<Command, { name: 'exec' }>, out: Output & { bytes?: (b: Uint8Array, stream: 'stdout' | 'stderr') => void }): Promise<number> {
  const r = await client.POST('/v1/sandboxes/{id}/exec', {
    params: { path: { id: cmd.id } },
    body: { command: cmd.command, ...(cmd.timeoutMs ? { timeout_ms: cmd.timeoutMs } : {}) },
    headers: { accept: cmd.json ? 'application/json' : 'text/event-stream, application/json;q=0.9' },
    parseAs: 'stream',
  });
  const body = unwrap(r) as unknown as ReadableStream<Uint8Array>;
  const write = (stream: 'stdout' | 'stderr', v: Uint8Array | string) => (typeof v === 'string' ? out[stream](v) : out.bytes ? out.bytes(v, stream) : out[stream](new TextDecoder().decode(v)));
  if (!r.response.headers.get('content-type')?.includes('text/event-stream')) {
    const result = JSON.parse(await new Response(body).text()) as ExecResult;
    if (cmd.json) out.stdout(json(result));
    else {
      write('stdout', result.stdout);
      write('stderr', result.stderr);
      if (result.truncated) out.stderr('git-sandbox: output truncated at MAX_OUTPUT_BYTES\n');
    }
    return result.exit_code;
  }
  for await (const m of readSse(body)) {
    if (m.event === 'stdout' || m.event === 'stderr') write(m.event, pieceBytes(m.data));
    else if (m.event === 'exit') {
      const end = JSON.parse(m.data) as { exit_code: number; timed_out: boolean; truncated: boolean };
      if (end.timed_out) out.stderr('git-sandbox: the command timed out; it and every process it started were killed\n');
      if (end.truncated) out.stderr('git-sandbox: output truncated at MAX_OUTPUT_BYTES\n');
      return end.exit_code;
    } else if (m.event === 'error') {
      throw new GitSandboxError(r.response.status, JSON.parse(m.data));
    }
  }
  throw new GitSandboxError(r.response.status, { error: { code: 'STREAM_ENDED', message: 'the event stream ended before the command did' } });
}

/** Runs `cmd` with `client`, writing to `out`; resolves to the exit code. */
export async function runCommand(client: GitSandboxClient, cmd: Command, out: Output): Promise<number> {
  switch (cmd.name) {
    case 'lease': {
      const lease = unwrap(
        await client.POST('/v1/sandboxes', {
          body: { repo_url: cmd.repoUrl, task_id: cmd.task, ...(cmd.branch ? { branch: cmd.branch } : {}), ...(cmd.agentBranch ? { agent_branch: cmd.agentBranch } : {}), ...(cmd.ttlS ? { ttl_s: cmd.ttlS } : {}) },
        }),
      );
      if (cmd.json) out.stdout(json(lease));
      else {
        out.stdout(`${lease.id}\n`);
        out.stderr(`leased ${lease.id}: ${lease.repo_url} at ${lease.branch}, your branch ${lease.agent_branch} (expires ${lease.expires_at})\n`);
      }
      return 0;
    }
    case 'ls': {
      const { sandboxes } = unwrap(await client.GET('/v1/sandboxes'));
      out.stdout(cmd.json ? json(sandboxes) : table(sandboxes));
      return 0;
    }
    case 'exec':
      return exec(client, cmd, out);
    case 'push': {
      const r = unwrap(
        await client.POST('/v1/sandboxes/{id}/push', {
          params: { path: { id: cmd.id } },
          body: { message: cmd.message, target: cmd.base ? 'base' : 'agent_branch', ...(cmd.paths ? { paths: cmd.paths } : {}) },
        }),
      );
      out.stdout(cmd.json ? json(r) : `${r.commit} ${r.target_branch}\n`);
      return 0;
    }
    case 'release':
      unwrap(await client.DELETE('/v1/sandboxes/{id}', { params: { path: { id: cmd.id } } }));
      out.stderr(`released ${cmd.id}\n`);
      return 0;
    default:
      return 0;
  }
}
