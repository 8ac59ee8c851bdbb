import { describe, expect, it } from 'vitest';
import { FailureWindow, KeyCache, failureSubjects } from '../../src/services/auth-limiter.ts';

const limit = { limit: 5, windowMs: 60_000 };
const t0 = 1_800_000_000_000 - (1_800_000_000_000 % 60_000);

describe('FailureWindow', () => {
  it('lets a client fail up to the limit, then makes it wait', () => {
    const w = new FailureWindow();
    for (let i = 0; i < 4; i++) w.record(['ip:a'], t0 + i, limit);
    expect(w.waitMs('ip:a', t0 + 10, limit)).toBe(0);
    w.record(['ip:a'], t0 + 11, limit);
    expect(w.waitMs('ip:a', t0 + 12, limit)).toBeGreaterThan(59_000);
  });

  it('counts one bad key from many addresses and many bad keys from one address', () => {
    const w = new FailureWindow();
    for (let i = 0; i < 5; i++) w.record(failureSubjects(`10.0.0.${i}`, 'abcdef0123456789ffff'), t0, limit);
    expect(w.waitMs('key:abcdef0123456789', t0, limit)).toBeGreaterThan(0);
    expect(w.waitMs('ip:10.0.0.1', t0, limit)).toBe(0);
    for (let i = 0; i < 5; i++) w.record(failureSubjects('10.9.9.9', `${i}`.repeat(64)), t0, limit);
    expect(w.waitMs('ip:10.9.9.9', t0, limit)).toBeGreaterThan(0);
  });

  it('forgives failures as they slide out of the window, and the wait it announces is enough', () => {
    const w = new FailureWindow();
    for (let i = 0; i < 5; i++) w.record(['ip:a'], t0 + 30_000, limit);
    const wait = w.waitMs('ip:a', t0 + 30_000, limit);
    expect(wait).toBeGreaterThan(0);
    expect(w.count('ip:a', t0 + 30_000 + wait, limit)).toBeLessThan(5);
    expect(w.waitMs('ip:a', t0 + 30_000 + wait, limit)).toBe(0);
    expect(w.waitMs('ip:a', t0 + 180_000, limit)).toBe(0);
  });

  it('limits at exactly the limit when the failures straddle a window boundary (no extra attempt from the decayed estimate)', () => {
    const w = new FailureWindow();
    // 2 failures just before the boundary, 3 just after: 5 within one second.
    w.record(['ip:b'], t0 + 59_500, limit);
    w.record(['ip:b'], t0 + 59_600, limit);
    for (let i = 0; i < 3; i++) w.record(['ip:b'], t0 + 60_100 + i, limit);
    // The estimate is 2 × (1 - 0.1/60) + 3 = 4.997: still 5 failures, so the client waits.
    expect(w.count('ip:b', t0 + 60_200, limit)).toBeLessThan(5);
    expect(w.waitMs('ip:b', t0 + 60_200, limit)).toBeGreaterThan(0);
    // 4 failures across the same boundary leave room for one more.
    const v = new FailureWindow();
    v.record(['ip:c'], t0 + 59_500, limit);
    for (let i = 0; i < 3; i++) v.record(['ip:c'], t0 + 60_100 + i, limit);
    expect(v.waitMs('ip:c', t0 + 60_200, limit)).toBe(0);
  });

  it('keeps a bounded number of clients', () => {
    const w = new FailureWindow();
    for (let i = 0; i < 20_000; i++) w.record([`ip:${i}`], t0, limit);
    // The oldest clients were dropped; the newest are still counted.
    expect(w.count('ip:0', t0, limit)).toBe(0);
    expect(w.count('ip:19999', t0, limit)).toBe(1);
  });
});

describe('KeyCache', () => {
  it('serves a key until its deadline and forgets a revoked key at once', () => {
    const c = new KeyCache();
    c.set('h1', 'agent-1', t0 + 30_000);
    expect(c.get('h1', t0 + 29_999)).toBe('agent-1');
    expect(c.get('h1', t0 + 30_000)).toBeUndefined();
    c.set('h2', 'agent-2', t0 + 30_000);
    c.forget('h2');
    expect(c.get('h2', t0)).toBeUndefined();
  });

  it('keeps a key past its TTL only as a fallback for a failing database, never past the key\'s own expiry, and not after a revocation', () => {
    const c = new KeyCache();
    c.set('h', 'agent', t0 + 30_000, t0 + 330_000);
    // Past the TTL the database is asked again (get misses) ...
    expect(c.get('h', t0 + 31_000)).toBeUndefined();
    // ... and if it cannot answer, the stale entry serves until its stale deadline.
    expect(c.stale('h', t0 + 31_000)).toBe('agent');
    expect(c.stale('h', t0 + 330_000)).toBeUndefined();
    // A key in a rotation grace period: the caller passes its expiry as both deadlines' cap.
    c.set('g', 'agent', t0 + 10_000, t0 + 10_000);
    expect(c.stale('g', t0 + 10_001)).toBeUndefined();
    c.set('r', 'agent', t0 + 30_000, t0 + 330_000);
    c.forget('r');
    expect(c.stale('r', t0 + 31_000)).toBeUndefined();
  });
});
