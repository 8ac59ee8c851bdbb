// Bounded work and clear refusals: huge outputs are cut in the sandbox, a runaway command leaves
// nothing behind, a flood of bad keys is turned away without hurting a legit agent, and malformed
// input gets its 4xx without costing a pool member.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { call, callJson, env, newAgent, newRepo } from './helpers.ts';

const pool = () => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));
const cfg = parseConfig(env);
const cap = cfg.MAX_OUTPUT_BYTES;

async function lease(key: string, repoUrl: string) {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}` } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; agent_branch: string };
}

async function exec(key: string, id: string, command: string, timeout_ms?: number) {
  const r = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command, timeout_ms } });
  expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
  return r.body as { exit_code: number; stdout: string; stderr: string; truncated: boolean; timed_out: boolean };
}

const terminations = (counters: Record<string, number>) =>
  Object.entries(counters).filter(([k]) => k.startsWith('terminations_total')).reduce((n, [, v]) => n + v, 0);

/** A random documentation address, so each test is its own client for the in-isolate limiter. */
const ip = (net: string) => `${net}.${Math.floor(Math.random() * 250) + 1}`;

describe('bounds', () => {
  it('cuts git status of 120k long untracked paths at MAX_OUTPUT_BYTES and says it is truncated', async () => {
    const { key } = await newAgent('bnd');
    const l = await lease(key, (await newRepo()).url);
    const made = await exec(key, l.id, `set -e; p=""; for c in d e f g; do p="$p$(printf "$c%.0s" $(seq 200))/"; done
      mkdir -p "flood/$p" && cd "flood/$p" && seq -f "%0200g" 1 120000 | xargs touch && ls | wc -l`);
    expect(made.stdout.trim()).toBe('120000');
    const res = await call('GET', `/v1/sandboxes/${l.id}/status`, { key });
    const text = await res.text();
    expect(res.status).toBe(200);
    // The list of what fitted, plus JSON quoting: far from the 120 MB the full list would be.
    expect(text.length).toBeLessThan(cap * 1.1);
    const st = JSON.parse(text);
    expect(st).toMatchObject({ truncated: true, clean: false });
    expect(st.untracked.length).toBeGreaterThan(500);
    expect(st.untracked.length).toBeLessThan(120_000);
    for (const p of st.untracked) expect(p).toMatch(/^flood\/d{200}\/e{200}\/f{200}\/g{200}\/\d{200}$/);
    await call('DELETE', `/v1/sandboxes/${l.id}`, { key });
  });

  it('caps a 50 MB exec output at MAX_OUTPUT_BYTES and flags it truncated', async () => {
    const { key } = await newAgent('bnd');
    const l = await lease(key, (await newRepo()).url);
    const r = await exec(key, l.id, `head -c 50000000 /dev/zero | tr '\\0' a; echo done >&2`);
    expect(r).toMatchObject({ exit_code: 0, truncated: true, timed_out: false, stderr: 'done\n' });
    expect(r.stdout.length).toBe(cap);
    expect(r.stdout).toMatch(/^a+$/);
    await call('DELETE', `/v1/sandboxes/${l.id}`, { key });
  });

  it('kills a timed-out `yes` and every process it started, leaving disk usage where it was', async () => {
    const { key } = await newAgent('bnd');
    const l = await lease(key, (await newRepo()).url);
    const [p, q] = ['gsyes', crypto.randomUUID().slice(0, 8)];
    const usage = `du -sk /tmp "$HOME" "\${TMPDIR:-/tmp}" 2>/dev/null | awk '{s+=$1} END {print s}'`;
    const before = Number((await exec(key, l.id, usage)).stdout.trim());
    const r = await exec(key, l.id, `m="${p}"'${q}'; (yes "$m" > /dev/null &); setsid yes "$m" 2>&1 & yes "$m"`, 3000);
    expect(r).toMatchObject({ exit_code: 124, timed_out: true, truncated: true });
    expect(r.stdout.length).toBe(cap);
    expect(r.stderr).toContain('timed out after 3000 ms');
    expect(r.stderr).not.toMatch(/setTimeout|sandbox timeout|deadline/i);
    const after = await exec(key, l.id, `m="${p}"'${q}'; grep -lsFf <(echo "$m") /proc/[0-9]*/cmdline | wc -l; ${usage}`);
    const [procs, used] = after.stdout.trim().split('\n').map(Number);
    // The one in the foreground, the one backgrounded in its session and the one in a session of
    // its own (found by the command's mark) are all gone.
    expect(procs).toBe(0);
    expect(Math.abs(used - before)).toBeLessThan(256);
    await call('DELETE', `/v1/sandboxes/${l.id}`, { key });
  });

  it('answers a flood of bad keys with 429 and Retry-After, without slowing a legit agent', async () => {
    const { key } = await newAgent('bnd');
    const legitIp = ip('198.51.100');
    const attacker = ip('203.0.113');
    const ok = async (from: string) => (await call('GET', '/v1/sandboxes', { key, headers: { 'cf-connecting-ip': from } })).status;
    expect(await ok(legitIp)).toBe(200);
    const statuses: number[] = [];
    let retryAfter = 0;
    for (let i = 0; i < cfg.AUTH_FAIL_LIMIT + 10; i++) {
      const r = await call('GET', '/v1/sandboxes', { key: `gsk_bad_${crypto.randomUUID()}`, headers: { 'cf-connecting-ip': attacker } });
      statuses.push(r.status);
      if (r.status === 401) expect(r.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      if (r.status === 429) retryAfter = Number(r.headers.get('retry-after'));
      if (i % 5 === 0) expect(await ok(legitIp)).toBe(200);
    }
    expect(statuses.slice(0, cfg.AUTH_FAIL_LIMIT).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(cfg.AUTH_FAIL_LIMIT).every((s) => s === 429)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(cfg.AUTH_FAIL_WINDOW_S * 2);
    // The legit agent keeps working even from the flooded address (its key resolved before).
    expect(await ok(attacker)).toBe(200);
    // One bad key tried from many addresses is limited too.
    const badKey = `gsk_bad_${crypto.randomUUID()}`;
    const spread: number[] = [];
    for (let i = 0; i < cfg.AUTH_FAIL_LIMIT + 3; i++) spread.push((await call('GET', '/v1/sandboxes', { key: badKey, headers: { 'cf-connecting-ip': `192.0.2.${i + 1}` } })).status);
    expect(spread.slice(-3)).toEqual([429, 429, 429]);
  });

  it('answers each malformed input with its 4xx and destroys no pool member', async () => {
    const { key } = await newAgent('bnd');
    const repo = await newRepo();
    const l = await lease(key, repo.url);
    const before = terminations((await pool().stats()).counters);
    const create = (body: Record<string, unknown>) => callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repo.url, task_id: 'bad-input', ...body } });
    const cases: [string, Promise<{ status: number; body: any }>, number, string, string?][] = [
      ['branch HEAD', create({ branch: 'HEAD' }), 400, 'INVALID_REF', 'branch'],
      ['branch refs/heads/main', create({ branch: 'refs/heads/main' }), 400, 'INVALID_REF', 'branch'],
      ['agent_branch @', create({ agent_branch: '@' }), 400, 'INVALID_REF', 'agent_branch'],
      ['agent_branch with NUL', create({ agent_branch: 'agent/x\u0000y' }), 400, 'BAD_REQUEST', 'agent_branch'],
      ['task_id with newline', create({ task_id: 'a\nb' }), 400, 'BAD_REQUEST', 'task_id'],
      ['repo_url with newline', create({ repo_url: `${repo.url}\n` }), 400, 'BAD_REQUEST', 'repo_url'],
      ['missing base branch', create({ branch: 'no-such-branch' }), 404, 'BRANCH_NOT_FOUND'],
      ['push message with NUL', callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'fix\u0000' } }), 400, 'BAD_REQUEST', 'message'],
      ['push message with escape', callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'fix \u001b[31m' } }), 400, 'BAD_REQUEST', 'message'],
      ['author name with newline', callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'ok', author: { name: 'a\nb', email: 'a@b.c' } } }), 400, 'BAD_REQUEST', 'author.name'],
      ['push path with bell', callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'ok', paths: ['a\u0007'] } }), 400, 'BAD_REQUEST', 'paths.0'],
      ['exec command with NUL', callJson('POST', `/v1/sandboxes/${l.id}/exec`, { key, body: { command: 'echo \u0000' } }), 400, 'BAD_REQUEST', 'command'],
      ['diff path with NUL', callJson('GET', `/v1/sandboxes/${l.id}/diff?path=%00`, { key }), 400, 'BAD_REQUEST', 'path'],
      ['file path with NUL', callJson('GET', `/v1/sandboxes/${l.id}/files/a%00b`, { key }), 400, 'INVALID_PATH', 'path'],
      ['file path escaping the repo', callJson('GET', `/v1/sandboxes/${l.id}/files/..%2F..%2Fetc%2Fpasswd`, { key }), 400, 'INVALID_PATH', 'path'],
      ['file write into .git', callJson('PUT', `/v1/sandboxes/${l.id}/files/.git/config`, { key, raw: 'x' }), 400, 'INVALID_PATH', 'path'],
      ['lease id of the wrong shape', callJson('GET', '/v1/sandboxes/sbx_nothex/status', { key }), 400, 'BAD_REQUEST', 'id'],
    ];
    for (const [what, pending, status, code, field] of cases) {
      const r = await pending;
      expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body.error.code, what).toBe(code);
      if (field) expect(r.body.error.field, what).toBe(field);
      expect(r.body.error.message, what).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    }
    // The lease still works, and nothing was terminated for bad input.
    expect((await exec(key, l.id, 'git status --porcelain | wc -l')).stdout.trim()).toBe('0');
    await call('DELETE', `/v1/sandboxes/${l.id}`, { key });
    await pool().drain();
    expect(terminations((await pool().stats()).counters)).toBe(before);
  });
});
