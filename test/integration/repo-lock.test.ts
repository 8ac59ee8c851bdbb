import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { RepoLock } from '../../src/durable/repo-lock.ts';
import { env } from './helpers.ts';

const lock = () => env.REPO_LOCK.get(env.REPO_LOCK.idFromName(`lock-${crypto.randomUUID()}`));

describe('RepoLock', () => {
  it('grants waiters in FIFO order with increasing fencing tokens', async () => {
    const l = lock();
    const a = await l.acquire('a', { ttlMs: 10_000, waitMs: 5000 });
    if (!a.ok) throw new Error('a should hold the lock');
    const order: string[] = [];
    const b = l.acquire('b', { ttlMs: 10_000, waitMs: 5000 }).then((r) => (order.push('b'), r));
    await new Promise((r) => setTimeout(r, 50));
    const c = l.acquire('c', { ttlMs: 10_000, waitMs: 5000 }).then((r) => (order.push('c'), r));
    await new Promise((r) => setTimeout(r, 50));
    expect((await l.inspect()).waiters).toBe(2);
    await l.release(a.token);
    const rb = await b;
    if (!rb.ok) throw new Error('b should get the lock');
    await l.release(rb.token);
    const rc = await c;
    expect(order).toEqual(['b', 'c']);
    expect(rc.ok && rb.ok && rc.token > rb.token && rb.token > a.token).toBe(true);
  });

  it('expires a holder that never releases and grants the next waiter', async () => {
    const l = lock();
    const dead = await l.acquire('crashed', { ttlMs: 300, waitMs: 0 });
    expect(dead.ok).toBe(true);
    const t0 = Date.now();
    const next = await l.acquire('next', { ttlMs: 10_000, waitMs: 5000 });
    expect(next.ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(4000);
    const audit = await l.audit();
    expect(audit.map((x) => x.event)).toEqual(expect.arrayContaining(['expire', 'acquire']));
  });

  it('refuses a release or extension with a stale token', async () => {
    const l = lock();
    const a = await l.acquire('a', { ttlMs: 200, waitMs: 0 });
    if (!a.ok) throw new Error('unreachable');
    await runInDurableObject(l, async (_o: RepoLock, state) => {
      state.storage.sql.exec(`UPDATE lock_state SET expires_at=? WHERE id=1`, Date.now() - 1);
    });
    await runDurableObjectAlarm(l);
    const b = await l.acquire('b', { ttlMs: 10_000, waitMs: 0 });
    expect(b.ok).toBe(true);
    expect(await l.release(a.token)).toEqual({ ok: false, reason: 'stale' });
    expect((await l.extend(a.token, 1000)).ok).toBe(false);
    expect((await l.inspect()).holder).toBe('b');
  });

  it('times out a waiter with its queue position and a Retry-After', async () => {
    const l = lock();
    await l.acquire('a', { ttlMs: 10_000, waitMs: 0 });
    const r = await l.acquire('b', { ttlMs: 10_000, waitMs: 200 });
    expect(r).toMatchObject({ ok: false, reason: 'timeout', position: 1, holder: 'a' });
    if (!r.ok && r.reason === 'timeout') expect(r.retryAfterS).toBeGreaterThanOrEqual(1);
    expect((await l.audit()).map((x) => x.event)).toContain('timeout');
  });

  it('handles an alarm that fires twice or late without changing the state', async () => {
    const l = lock();
    const a = await l.acquire('a', { ttlMs: 10_000, waitMs: 0 });
    await runDurableObjectAlarm(l);
    await runDurableObjectAlarm(l);
    const st = await l.inspect();
    expect(a.ok && st.holder === 'a' && st.token === a.token).toBe(true);
  });

  it('returns a dead lander\'s claimed entries to the queue and refuses its late report', async () => {
    const l = lock();
    await l.enqueue('e1', 'lease1', 'agent-1');
    await l.enqueue('e2', 'lease2', 'agent-2');
    const a = await l.acquire('lander-a', { ttlMs: 10_000, waitMs: 0 });
    if (!a.ok) throw new Error('unreachable');
    expect(await l.claim(a.token, 50)).toEqual([{ id: 'e1', agentId: 'agent-1' }, { id: 'e2', agentId: 'agent-2' }]);
    expect(await l.cancel('e1')).toBe(false);
    await runInDurableObject(l, async (_o: RepoLock, state) => {
      state.storage.sql.exec(`UPDATE lock_state SET expires_at=? WHERE id=1`, Date.now() - 1);
    });
    await runDurableObjectAlarm(l);
    expect((await l.entry('e1'))?.status).toBe('pending');
    const b = await l.acquire('lander-b', { ttlMs: 10_000, waitMs: 0 });
    if (!b.ok) throw new Error('unreachable');
    expect(await l.claim(a.token, 50)).toEqual([]);
    expect(await l.claim(b.token, 1)).toEqual([{ id: 'e1', agentId: 'agent-1' }]);
    expect(await l.complete(a.token, [{ id: 'e1', status: 'landed', commit: 'x'.repeat(40), conflicts: [] }])).toBe(false);
    expect(await l.complete(b.token, [{ id: 'e1', status: 'conflict', conflicts: ['a.txt'] }])).toBe(true);
    expect(await l.entry('e1')).toMatchObject({ status: 'conflict', conflicts: ['a.txt'], batch_size: 1 });
    expect(await l.cancel('e2')).toBe(true);
    expect(await l.claim(b.token, 50)).toEqual([]);
  });
});
