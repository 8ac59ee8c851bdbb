// Helpers for Worker integration tests: call the Worker, create agents, talk to the test oracle.
import { env, exports } from 'cloudflare:workers';
import { inject } from 'vitest';

/** The stack's addresses and tokens (from globalSetup). */
export const stack = inject('stack');
const oracleUrl = inject('oracleUrl');

/** Sends a request to the Worker under test. */
export async function call(method: string, path: string, opts: { key?: string; body?: unknown; headers?: Record<string, string>; raw?: BodyInit } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: BodyInit | undefined = opts.raw;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  return exports.default.fetch(new Request(`http://worker.test${path}`, { method, headers, body }));
}

/** Sends a request and parses the JSON body. */
export async function callJson<T = any>(method: string, path: string, opts: Parameters<typeof call>[2] = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await call(method, path, opts);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

/** Creates an API key for a fresh agent id (unique per call unless given). */
export async function newAgent(prefix = 'agent'): Promise<{ agentId: string; key: string; keyId: string }> {
  const agentId = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const r = await callJson('POST', '/v1/admin/keys', { key: stack.admin_token, body: { agent_id: agentId } });
  if (r.status !== 201) throw new Error(`key creation failed: ${r.status} ${JSON.stringify(r.body)}`);
  return { agentId, key: r.body.key, keyId: r.body.id };
}

/** Calls the test oracle. */
export async function oracle<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${oracleUrl}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return (await res.json()) as T;
}

/** Creates a fresh bare repo on the local git server and returns its URL. */
export async function newRepo(files?: Record<string, string>): Promise<{ name: string; url: string }> {
  const name = `r-${crypto.randomUUID().slice(0, 8)}`;
  const r = await oracle<{ url: string }>('POST', '/repos', { name, files });
  return { name, url: r.url };
}

/** Runs git against a bare repo on the server (via the oracle). */
export async function remoteGit(repo: string, ...args: string[]): Promise<string> {
  const r = await oracle<{ stdout: string; code: number }>('POST', '/git', { repo, args });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed`);
  return r.stdout;
}

export { env };
