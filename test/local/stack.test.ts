// The embedded stack: Postgres with migrations, the Neon driver through the ws proxy, the Worker
// bindings mapping, and Postgres going down and coming back on the same port and data.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client as NeonClient, Pool as NeonPool, neonConfig } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import ws from 'ws';
import { applyMigrations } from '../../local/migrate.ts';
import { startStack, workerBindings, type Stack } from '../../local/stack.ts';

let dir: string;
let stack: Stack;

async function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: stack.database_url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gs-stack-test-'));
  // This file tests the embedded stack itself, so an outer DATABASE_URL must not replace its Postgres.
  vi.stubEnv('DATABASE_URL', '');
  stack = await startStack({ dir });
  neonConfig.webSocketConstructor = ws;
  neonConfig.wsProxy = (host, port) => `${stack.neon_ws_proxy}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
  vi.unstubAllEnvs();
});

describe('local stack', () => {
  it('creates every table of the schema through the migrations', async () => {
    const rows = await query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(expect.arrayContaining(['api_keys', 'git_operations', 'git_sandboxes']));
  });

  it('creates the lookup indexes on sandbox_id, agent_id, task_id and agent_branch', async () => {
    const rows = await query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = 'git_sandboxes'`);
    const defs = rows.map((r) => r.indexdef).join('\n');
    for (const col of ['sandbox_id', 'agent_id', 'task_id', 'agent_branch']) expect(defs).toContain(`(${col})`);
    const keys = await query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE tablename = 'api_keys'`);
    expect(keys.map((r) => r.indexdef).join('\n')).toMatch(/UNIQUE INDEX .* \(key_hash\)/);
  });

  it('applies migrations idempotently', async () => {
    const again = await applyMigrations(stack.database_url);
    expect(again.after).toBe(again.before);
    expect(again.after).toBeGreaterThan(0);
  });

  it('runs a transaction with the Neon driver through the ws proxy', async () => {
    const pool = new NeonPool({ connectionString: stack.database_url });
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO api_keys (id, agent_id, key_hash) VALUES ('k_tx', 'agent-tx', 'hash-tx')`);
      const inside = await client.query(`SELECT count(*)::int AS n FROM api_keys WHERE id = 'k_tx'`);
      await client.query('ROLLBACK');
      const after = await client.query(`SELECT count(*)::int AS n FROM api_keys WHERE id = 'k_tx'`);
      expect(inside.rows[0].n).toBe(1);
      expect(after.rows[0].n).toBe(0);
    } finally {
      client.release();
      await pool.end();
    }
  });

  it('proxies 120 concurrent Neon connections and closes them all afterwards', async () => {
    const clients = Array.from({ length: 120 }, () => new NeonClient(stack.database_url));
    await Promise.all(clients.map((c) => c.connect()));
    const rows = await Promise.all(clients.map((c, i) => c.query('SELECT $1::int AS i', [i])));
    expect(rows.map((r) => r.rows[0].i)).toEqual(clients.map((_, i) => i));
    expect(stack.wsProxy!.connections()).toBeGreaterThanOrEqual(120);
    await Promise.all(clients.map((c) => c.end()));
    await expect.poll(() => stack.wsProxy!.connections(), { timeout: 5000 }).toBe(0);
  });

  it('refuses to proxy to a non-loopback address', async () => {
    const sock = new ws(`ws://${stack.neon_ws_proxy}?address=10.1.2.3:5432`);
    const status = await new Promise<number>((resolve) => {
      sock.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      sock.on('open', () => resolve(101));
      sock.on('error', () => {});
    });
    sock.terminate();
    expect(status).toBe(403);
  });

  it('maps the stack to the Worker env names', () => {
    const b = workerBindings(stack);
    expect(b).toMatchObject({
      DATABASE_URL: stack.database_url,
      NEON_WS_PROXY: stack.neon_ws_proxy,
      GIT_TOKEN: stack.git_token,
      ADMIN_TOKEN: stack.admin_token,
      METRICS_TOKEN: stack.metrics_token,
      E2B_API_URL: stack.e2b_api_url,
      E2B_SANDBOX_URL: stack.e2b_sandbox_url,
      E2B_API_KEY: stack.e2b_api_key,
      ALLOWED_REPOS: `${new URL(stack.git_url).host}/*`,
    });
    expect(Buffer.from(b.ERROR_ENCRYPTION_KEY, 'base64')).toHaveLength(32);
    expect(stack.demo_repo_url).toBe(`${stack.git_url}/demo.git`);
  });

  it('starts the local E2B host with an API key', async () => {
    expect(stack.e2b_api_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${stack.e2b_api_url}/v2/sandboxes`, { headers: { 'X-API-KEY': stack.e2b_api_key } });
    expect(res.status).toBeLessThan(500);
  });

  it('fails queries while Postgres is stopped and serves them again after a restart', async () => {
    const pool = new NeonPool({ connectionString: stack.database_url, connectionTimeoutMillis: 3000 });
    pool.on('error', () => {});
    try {
      await pool.query(`INSERT INTO api_keys (id, agent_id, key_hash) VALUES ('k_keep', 'a', 'h_keep')`);
      await stack.postgres.stop();
      await expect(pool.query('SELECT 1')).rejects.toThrow();
      await stack.postgres.restart();
      const { rows } = await pool.query(`SELECT agent_id FROM api_keys WHERE id = 'k_keep'`);
      expect(rows).toEqual([{ agent_id: 'a' }]);
    } finally {
      await pool.end();
    }
  });
});
