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
