import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/client.ts';
import { callJson, env, oracle } from './helpers.ts';

describe('foundation', () => {
  it('applies the migrations: every table and the lookup indexes exist', async () => {
    const h = createDb(env);
    try {
      const tables = await h.db.execute(sql`select table_name from information_schema.tables where table_schema='public' order by 1`);
      const names = tables.rows.map((r) => r.table_name);
      expect(names).toEqual(expect.arrayContaining(['api_keys', 'git_operations', 'git_sandboxes']));
      const idx = await h.db.execute(sql`select indexdef from pg_indexes where tablename='git_sandboxes'`);
      const defs = idx.rows.map((r) => String(r.indexdef)).join('\n');
      for (const col of ['sandbox_id', 'agent_id', 'task_id', 'agent_branch']) expect(defs).toContain(`(${col})`);
    } finally {
      await h.close();
    }
  });

  it('reads and writes Postgres through the Neon driver inside the Worker runtime', async () => {
    const h = createDb(env);
    try {
      const marker = `probe-${crypto.randomUUID()}`;
      await h.db.transaction(async (tx) => {
        await tx.execute(sql`insert into git_operations(op, result, detail) values ('probe', 'ok', ${JSON.stringify({ marker })}::jsonb)`);
      });
      const back = await h.db.execute(sql`select count(*)::int as n from git_operations where detail->>'marker' = ${marker}`);
      expect(back.rows[0].n).toBe(1);
    } finally {
      await h.close();
    }
  });

  it('reports the database state on /healthz: 200 when up, 503 with a clear body when down', async () => {
    const up = await callJson('GET', '/healthz');
    expect(up.status).toBe(200);
    expect(up.body.database.status).toBe('up');
    await oracle('POST', '/postgres/stop');
    try {
      const down = await callJson('GET', '/healthz');
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'degraded', database: { status: 'down' }, error: { code: 'DATABASE_UNAVAILABLE' } });
    } finally {
      await oracle('POST', '/postgres/start');
    }
    const again = await callJson('GET', '/healthz');
    expect(again.status).toBe(200);
  });

  it('answers unknown routes with a coded 404 body', async () => {
    const r = await callJson('GET', '/nope');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('NOT_FOUND');
  });

  it('serves the OpenAPI document generated from the route schemas', async () => {
    const r = await callJson('GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(['/v1/sandboxes', '/v1/sandboxes/{id}/push', '/v1/admin/keys']));
    // The documented bodies are the wire contract's: a diff's files carry `binary`, a lease its freshness.
    expect(Object.keys(r.body.components.schemas.Diff.properties.files.items.properties)).toEqual(['path', 'additions', 'deletions', 'binary']);
    expect(r.body.components.schemas.Lease.required).toEqual(expect.arrayContaining(['base_commit', 'fetched_at']));
    const docs = await fetch(`${env.PUBLIC_URL}/docs`);
    expect(await docs.text()).toContain('/v1/sandboxes/{id}/push');
  });
});
