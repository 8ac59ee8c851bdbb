import { describe, expect, it } from 'vitest';
import { WaitQueue } from '../../src/pool/wait-queue.ts';

describe('WaitQueue', () => {
  it('serves in FIFO order and answers a waiter nobody served by its deadline', async () => {
    const q = new WaitQueue<string, string>((w) => `timeout:${w.req}`);
    const now = Date.now();
    const a = q.wait('a', now, now + 1000);
    const b = q.wait('b', now, now + 30);
    const first = q.take();
    expect(first?.req).toBe('a');
    first?.resolve('served:a');
    expect(await a).toBe('served:a');
    expect(await b).toBe('timeout:b');
    expect(q.length).toBe(0);
  });

  it('keeps the original deadline of a waiter that was taken and put back', async () => {
    const q = new WaitQueue<string, string>((w) => `timeout:${w.req}`);
    const now = Date.now();
    const a = q.wait('a', now, now + 50);
    q.putBack(q.take()!);
    expect(q.length).toBe(1);
    const t0 = Date.now();
    expect(await a).toBe('timeout:a');
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
