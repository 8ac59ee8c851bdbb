// The sandbox seam (src/sandbox/provider.ts) against the local E2B host: the per-isolate route
// cache that lets a request skip the control-plane connect, and deadlines that leave no timer armed.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Sandbox } from 'e2b';
import {
  attachSandbox,
  confirmAlive,
  connectSandbox,
  createSandbox,
  EXTEND_SLACK_MS,
  isAlive,
  killSandbox,
  run,
  withDeadline,
  type ProviderOptions,
} from '../../src/sandbox/provider.ts';
import { opts, useLocalHost } from './helpers/e2b-host-setup.ts';

useLocalHost();

const p = (): ProviderOptions => ({ ...opts, template: 'base', requestTimeoutMs: 30_000 });
const made: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(made.splice(0).map((id) => killSandbox(p(), id).catch(() => false)));
});

async function sandbox(timeoutMs = 60_000): Promise<string> {
  const id = await createSandbox(p(), timeoutMs, { suite: 'provider' });
  made.push(id);
  return id;
}

describe('route cache', () => {
  it('reaches a sandbox it created or connected to without a connect while the sandbox is known to live long enough', async () => {
    const id = await sandbox(60_000);
    const connect = vi.spyOn(Sandbox as unknown as { connectSandbox: () => unknown }, 'connectSandbox');
    const first = await attachSandbox(p(), id, 60_000);
    expect(first.cached).toBe(true);
    expect((await run(first.sbx, 'echo hi')).stdout).toBe('hi\n');
    expect(connect).not.toHaveBeenCalled();
    // Longer than the sandbox is known to live: a connect extends it, with the slack on top.
    const need = 60_000 + EXTEND_SLACK_MS + 60_000;
    const longer = await attachSandbox(p(), id, need);
    expect(longer.cached).toBe(false);
    expect(connect).toHaveBeenCalledTimes(1);
    const { endAt } = await Sandbox.getInfo(id, opts);
    expect(endAt.getTime()).toBeGreaterThan(Date.now() + need + EXTEND_SLACK_MS - 60_000);
    expect((await attachSandbox(p(), id, need + EXTEND_SLACK_MS / 2)).cached).toBe(true);
  });

  it('tells a sandbox killed behind its back apart: the call through the cached route fails, then SANDBOX_UNAVAILABLE', async () => {
    const id = await sandbox();
    await connectSandbox(p(), id, 30_000);
    await Sandbox.kill(id, opts);
    const { sbx, cached } = await attachSandbox(p(), id, 30_000);
    expect(cached).toBe(true);
    await expect(run(sbx, 'true')).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    await expect(confirmAlive(p(), id)).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    // The route is forgotten: the next attach asks the control plane, which says the sandbox is gone.
    await expect(attachSandbox(p(), id, 30_000)).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
  });

  it('returns from confirmAlive for a sandbox that still runs', async () => {
    const id = await sandbox();
    await expect(confirmAlive(p(), id)).resolves.toBeUndefined();
  });
});

describe('deadlines', () => {
  it('makes control-plane calls without arming an AbortSignal.timeout', async () => {
    const timeout = vi.spyOn(AbortSignal, 'timeout');
    const id = await sandbox();
    await connectSandbox(p(), id, 30_000);
    expect(await isAlive(p(), id)).toBe(true);
    expect(await killSandbox(p(), id)).toBe(true);
    expect(timeout).not.toHaveBeenCalled();
  });

  it('clears its timer when the call settles and aborts a call that outlives it', async () => {
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    expect(await withDeadline(5_000, async () => 7)).toBe(7);
    expect(cleared).toHaveBeenCalledTimes(1);
    const hung = withDeadline(50, (o) => new Promise((_, reject) => o.signal.addEventListener('abort', () => reject(o.signal.reason))));
    await expect(hung).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});
