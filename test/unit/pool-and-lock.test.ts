import { describe, expect, it } from 'vitest';
import { backoffMs, decideGrant, lockName } from '../../src/lock/rules.ts';
import { createDelayMs, demandTarget, refillCount, retireAt } from '../../src/pool/decide.ts';
import { modeFor } from '../../src/pool/rollout.ts';

describe('pool arithmetic', () => {
  it('rate-limits creations to CREATE_PER_SEC in a rolling second', () => {
    expect(createDelayMs([], 5, 1000)).toBe(0);
    expect(createDelayMs([900, 950, 960, 970], 5, 1000)).toBe(0);
    expect(createDelayMs([900, 950, 960, 970, 980], 5, 1000)).toBe(900);
    expect(createDelayMs([100], 1, 1000)).toBe(100);
  });
  it('refills up to POOL_MIN without passing MAX_SANDBOXES', () => {
    expect(refillCount(1, 5, 3, 10)).toBe(2);
    expect(refillCount(1, 9, 3, 10)).toBe(1);
    expect(refillCount(4, 4, 3, 10)).toBe(0);
  });
  it('sizes the idle pool to the peak of concurrent leases still missing, plus one spare, within POOL_MIN..POOL_MAX', () => {
    // Quiet window: POOL_MIN only.
    expect(demandTarget({ peakActive: 0, activeNow: 0 }, 2, 10)).toBe(2);
    expect(demandTarget({ peakActive: 0, activeNow: 0 }, 0, 10)).toBe(0);
    // After a peak of 4, with nothing leased now: the 4 come back warm, plus a spare.
    expect(demandTarget({ peakActive: 4, activeNow: 0 }, 0, 10)).toBe(5);
    // At the peak, only the spare (a release followed by a lease at once).
    expect(demandTarget({ peakActive: 4, activeNow: 4 }, 0, 10)).toBe(1);
    expect(demandTarget({ peakActive: 4, activeNow: 3 }, 0, 10)).toBe(2);
    // Bounds.
    expect(demandTarget({ peakActive: 40, activeNow: 0 }, 0, 10)).toBe(10);
    expect(demandTarget({ peakActive: 4, activeNow: 4 }, 3, 10)).toBe(3);
  });
  it('jitters retirement within ±10 % of the max age', () => {
    expect(retireAt(0, 100, 0)).toBe(90_000);
    expect(retireAt(0, 100, 1)).toBe(110_000);
  });
  it('buckets agents stably and in proportion to POOLED_PERCENT', () => {
    expect(modeFor('agent-1', 100)).toBe('pooled');
    expect(modeFor('agent-1', 0)).toBe('direct');
    expect(modeFor('agent-7', 50)).toBe(modeFor('agent-7', 50));
    const pooled = Array.from({ length: 2000 }, (_, i) => modeFor(`agent-${i}`, 30)).filter((x) => x === 'pooled').length;
    expect(pooled / 2000).toBeGreaterThan(0.25);
    expect(pooled / 2000).toBeLessThan(0.35);
  });
});

describe('lock decisions', () => {
  it('grants only to a live waiter within its deadline', () => {
    expect(decideGrant({ hasResolver: true, deadline: 10, now: 5 })).toBe('grant');
    expect(decideGrant({ hasResolver: false, deadline: 10, now: 5 })).toBe('drop');
    expect(decideGrant({ hasResolver: true, deadline: 10, now: 10 })).toBe('drop');
  });
  it('backs off exponentially with jitter and a cap', () => {
    expect(backoffMs(0, 100, 2000, 0)).toBe(50);
    expect(backoffMs(2, 100, 2000, 0.999)).toBeLessThanOrEqual(400);
    expect(backoffMs(10, 100, 2000, 0.999)).toBeLessThanOrEqual(2000);
  });
  it('names one lock per repo and target branch', () => {
    expect(lockName('h/o/r', 'main')).not.toBe(lockName('h/o/r', 'agent/x'));
  });
});
