// LingeringDb: one database handle shared by consecutive uses, closed after a quiet spell or a failure.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DbHandle } from '../../src/db/client.ts';
import { LingeringDb } from '../../src/db/lingering.ts';

function handles(): { opened: { closed: boolean }[]; open: () => DbHandle } {
  const opened: { closed: boolean }[] = [];
  return {
    opened,
    open: () => {
      const h = { closed: false };
      opened.push(h);
      return { db: {}, pool: {}, close: async () => void (h.closed = true) } as unknown as DbHandle;
    },
  };
}

describe('LingeringDb', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('carries consecutive uses on one handle and closes it once the linger has passed', async () => {
    const f = handles();
    const db = new LingeringDb({ open: f.open, lingerMs: 1000 });
    await db.use(async () => 1);
    await vi.advanceTimersByTimeAsync(900);
    await db.use(async () => 2);
    expect(f.opened).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(900);
    expect(f.opened[0].closed).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(f.opened[0].closed).toBe(true);
    await db.use(async () => 3);
    expect(f.opened).toHaveLength(2);
  });

  it('closes the handle at once when a use fails, and opens a fresh one next time', async () => {
    const f = handles();
    const db = new LingeringDb({ open: f.open, lingerMs: 1000 });
    await expect(db.use(async () => Promise.reject(new Error('connection lost')))).rejects.toThrow('connection lost');
    expect(f.opened[0].closed).toBe(true);
    await db.use(async () => 1);
    expect(f.opened).toHaveLength(2);
    expect(f.opened[1].closed).toBe(false);
  });
});
