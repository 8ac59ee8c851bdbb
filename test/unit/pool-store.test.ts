// PoolStore's member pick against real SQLite (node:sqlite), with the coordinator's schema and migrations.
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import type { Member } from '../../src/pool/decide.ts';
import { MIGRATIONS_SQL, SCHEMA_SQL } from '../../src/pool/storage.ts';
import { PoolStore } from '../../src/pool/store.ts';
import type { LeaseRecord } from '../../src/pool/types.ts';

/** The part of a Durable Object's SqlStorage that PoolStore uses, over node:sqlite. */
function sqlStorage(db: DatabaseSync, seen: { q: string; args: unknown[] }[] = []): SqlStorage {
  const exec = (q: string, ...args: unknown[]) => {
    seen.push({ q, args });
    const st = db.prepare(q);
    const rows = /^\s*(SELECT|WITH)\b/i.test(q) ? (st.all(...(args as never[])) as Record<string, unknown>[]) : (st.run(...(args as never[])), []);
    return { toArray: () => rows, one: () => rows[0] };
  };
  return { exec } as unknown as SqlStorage;
}

function poolDb(): { db: DatabaseSync; store: PoolStore; seen: { q: string; args: unknown[] }[] } {
  const db = new DatabaseSync(':memory:');
  for (const stmt of [...SCHEMA_SQL, ...MIGRATIONS_SQL]) db.exec(stmt);
  const seen: { q: string; args: unknown[] }[] = [];
  return { db, store: new PoolStore(sqlStorage(db, seen)), seen };
}

function add(db: DatabaseSync, id: string, over: Partial<Member> = {}): void {
  const m = { state: 'idle', repo_key: null, created_at: 0, mode: 'pooled', ...over };
  db.prepare(`INSERT INTO members(sandbox_id,state,repo_key,home,created_at,retire_at,lease_id,mode) VALUES (?,?,?,'/h',?,1e15,NULL,?)`).run(id, m.state, m.repo_key, m.created_at, m.mode);
}

describe('PoolStore.pickIdle', () => {
  it('prefers a member that already holds the repo, then a blank one, then the oldest other', () => {
    const { db, store } = poolDb();
    add(db, 'other', { repo_key: 'x', created_at: 5 });
    add(db, 'blank', { created_at: 7 });
    add(db, 'mine', { repo_key: 'r', created_at: 9 });
    add(db, 'busy', { state: 'leased', repo_key: 'r', created_at: 1 });
    expect(store.pickIdle('r')).toMatchObject({ member: { sandbox_id: 'mine' }, source: 'affinity' });
    expect(store.pickIdle('z')).toMatchObject({ member: { sandbox_id: 'blank' }, source: 'warm' });
    db.exec(`DELETE FROM members WHERE sandbox_id='blank'`);
    add(db, 'older', { repo_key: 'y', created_at: 2 });
    expect(store.pickIdle('z')).toMatchObject({ member: { sandbox_id: 'older' }, source: 'warm' });
  });

  it('takes the oldest among several members holding the repo', () => {
    const { db, store } = poolDb();
    add(db, 'young', { repo_key: 'r', created_at: 9 });
    add(db, 'old', { repo_key: 'r', created_at: 3 });
    expect(store.pickIdle('r')?.member.sandbox_id).toBe('old');
  });

  it('never hands out leased, scrubbing, creating, refreshing or direct members', () => {
    const { db, store } = poolDb();
    add(db, 'a', { state: 'leased' });
    add(db, 'b', { state: 'scrubbing' });
    add(db, 'c', { state: 'creating' });
    add(db, 'd', { mode: 'direct' });
    add(db, 'e', { state: 'refreshing', repo_key: 'r' });
    expect(store.pickIdle('r')).toBeNull();
    expect(store.hasIdlePooled()).toBe(false);
  });

  it('answers from an index, without scanning or sorting the members table', () => {
    const { db, store, seen } = poolDb();
    for (let i = 0; i < 50; i++) add(db, `m${i}`, { state: 'leased', created_at: i });
    // No idle member: every step of the rule runs.
    expect(store.pickIdle('r')).toBeNull();
    expect(seen).toHaveLength(3);
    for (const { q, args } of seen) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${q}`).all(...(args as never[])) as { detail: string }[]).map((r) => r.detail).join('; ');
      expect(plan).toMatch(/USING (COVERING )?INDEX members_(pick|age)/);
      expect(plan).not.toMatch(/TEMP B-TREE|SCAN members(?! USING)/);
    }
  });
});

describe('PoolStore counters', () => {
  it('counts a grant and observes its wait in one statement, adding to what is stored', () => {
    const { db, store, seen } = poolDb();
    const lease = { source: 'warm', mode: 'pooled' } as LeaseRecord;
    store.countLease(lease, 30, true);
    seen.length = 0;
    store.countLease(lease, 400, true);
    expect(seen).toHaveLength(1);
    const rows = Object.fromEntries((db.prepare('SELECT name, value FROM counters').all() as { name: string; value: number }[]).map((r) => [r.name, r.value]));
    expect(rows).toMatchObject({
      'leases_total{source="warm",mode="pooled"}': 2,
      'leases_reused_total{reused="true"}': 2,
      'lease_wait_seconds_bucket{le="0.05"}': 1,
      'lease_wait_seconds_bucket{le="0.5"}': 2,
      'lease_wait_seconds_bucket{le="+Inf"}': 2,
      lease_wait_seconds_count: 2,
    });
    expect(rows.lease_wait_seconds_sum).toBeCloseTo(0.43);
  });
});

describe('PoolStore counts kept by triggers', () => {
  const STATES = ['creating', 'idle', 'leased', 'scrubbing', 'refreshing'];
  const LEASE = ['initializing', 'ready', 'in_use', 'terminated', 'expired', 'error'];

  /** What the counts must be, counted the slow way over the tables. */
  function truth(db: DatabaseSync) {
    const one = (q: string) => Number((db.prepare(q).get() as { n: number }).n);
    return {
      total: one(`SELECT count(*) AS n FROM members`),
      warm: one(`SELECT count(*) AS n FROM members WHERE mode='pooled' AND state IN ('idle','creating','scrubbing','refreshing')`),
      returning: one(`SELECT count(*) AS n FROM members WHERE mode='pooled' AND state IN ('scrubbing','refreshing')`),
      agentActive: one(`SELECT count(*) AS n FROM leases WHERE status IN ('initializing','ready','in_use') AND agent_id != '@lander'`),
      perAgent: (a: string) => one(`SELECT count(*) AS n FROM leases WHERE status IN ('initializing','ready','in_use') AND agent_id='${a}'`),
    };
  }

  it('stay equal to counting the tables through 2,000 random inserts, state changes and deletes (members and leases)', () => {
    const { db, store } = poolDb();
    // A fixed-seed generator: the same sequence every run, so a failure is reproducible.
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const agents = ['a', 'b', 'c', '@lander'];
    for (let i = 0; i < 2000; i++) {
      const op = rnd(6);
      const m = `m${rnd(40)}`;
      const l = `sbx_${rnd(60)}`;
      if (op === 0) db.prepare(`INSERT OR IGNORE INTO members(sandbox_id,state,repo_key,home,created_at,retire_at,lease_id,mode) VALUES (?,?,NULL,'/h',?,1e15,NULL,?)`).run(m, STATES[rnd(5)], i, rnd(4) ? 'pooled' : 'direct');
      else if (op === 1) db.prepare(`UPDATE members SET state=? WHERE sandbox_id=?`).run(STATES[rnd(5)], m);
      else if (op === 2) db.prepare(`DELETE FROM members WHERE sandbox_id=?`).run(m);
      else if (op === 3) db.prepare(`INSERT OR IGNORE INTO leases(id,agent_id,task_id,repo_url,repo_key,branch,agent_branch,sandbox_id,mode,source,status,created_at,expires_at) VALUES (?,?,'t','u','k','main','ab','m','pooled','warm',?,?,1e15)`).run(l, agents[rnd(4)], LEASE[rnd(6)], i);
      else if (op === 4) db.prepare(`UPDATE leases SET status=? WHERE id=?`).run(LEASE[rnd(6)], l);
      else db.prepare(`DELETE FROM leases WHERE id=?`).run(l);
      if (i % 50 === 49) {
        const t = truth(db);
        expect({ total: store.total(), warm: store.warmCount(), returning: store.returningCount(), agentActive: store.activeAgentLeases() }).toEqual({
          total: t.total, warm: t.warm, returning: t.returning, agentActive: t.agentActive,
        });
        for (const a of agents) expect(store.agentActive(a)).toBe(t.perAgent(a));
      }
    }
  });

  it('are seeded from the rows already stored when the migration adds them to an existing coordinator', () => {
    const db = new DatabaseSync(':memory:');
    const counting = MIGRATIONS_SQL.findIndex((q) => q.includes('CREATE TABLE IF NOT EXISTS member_counts'));
    for (const stmt of [...SCHEMA_SQL, ...MIGRATIONS_SQL.slice(0, counting)]) db.exec(stmt);
    add(db, 'x', { state: 'idle' });
    add(db, 'y', { state: 'scrubbing' });
    db.prepare(`INSERT INTO leases(id,agent_id,task_id,repo_url,repo_key,branch,agent_branch,sandbox_id,mode,source,status,created_at,expires_at) VALUES ('sbx_1','a','t','u','k','main','ab','x','pooled','warm','ready',1,1e15)`).run();
    for (const stmt of MIGRATIONS_SQL.slice(counting)) db.exec(stmt);
    const store = new PoolStore(sqlStorage(db));
    expect({ total: store.total(), warm: store.warmCount(), returning: store.returningCount(), active: store.activeAgentLeases(), a: store.agentActive('a') }).toEqual({ total: 2, warm: 2, returning: 1, active: 1, a: 1 });
  });
});
