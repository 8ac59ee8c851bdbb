import { describe, expect, it } from 'vitest';
import { stepPcts } from '../../bench/profile.ts';

describe('bench push-step breakdown', () => {
  it('gives percentiles per step, counting a step a push skipped as 0 and leaving out the batch size', () => {
    const rows = [{ commit_queue: 100, land_script: 400, batch_size: 2, total_ms: 600 }, { commit_queue: 300, wait_for_other: 900, total_ms: 1300 }, null];
    const s = stepPcts(rows);
    expect(Object.keys(s).sort()).toEqual(['commit_queue', 'land_script', 'total_ms', 'wait_for_other']);
    expect(s.land_script.p90).toBe(400);
    expect(s.wait_for_other.p50).toBeGreaterThanOrEqual(0);
    expect(s.commit_queue.p90).toBe(300);
  });
});
