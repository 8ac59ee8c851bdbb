import { afterEach, describe, expect, it, vi } from 'vitest';
import { StepClock } from '../../src/services/step-clock.ts';

describe('StepClock', () => {
  afterEach(() => vi.useRealTimers());

  it('charges the time since the previous mark to each step and adds up repeated steps', () => {
    vi.useFakeTimers({ now: 1_000 });
    const c = new StepClock();
    vi.advanceTimersByTime(30);
    c.mark('commit');
    vi.advanceTimersByTime(50);
    c.mark('wait');
    vi.advanceTimersByTime(20);
    c.mark('wait');
    c.add('in_fetch', 12);
    c.add('bad', Number.NaN);
    expect(c.snapshot()).toEqual({ commit: 30, wait: 70, in_fetch: 12, total_ms: 100 });
  });
});
