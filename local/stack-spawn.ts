// Parent side of the embedded stack in a child Node process (child side: local/stack-process.ts):
// spawns the entry, reads its ready line, stops it with SIGTERM then SIGKILL. Imports nothing of the
// stack itself, so workerd-targeted test setups can load it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A spawned stack child: what it printed when ready, and how to stop it. */
export interface StackChild<T> {
  ready: T;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Parent side: spawns `entry` with Node, waits for its ready line, and returns a stopper. */
export async function spawnStackChild<T>(entry: string, args: string[] = [], opts: { stderr?: NodeJS.WritableStream; timeoutMs?: number } = {}): Promise<StackChild<T>> {
  const child = spawn(process.execPath, [entry, ...args], { stdio: ['pipe', 'pipe', opts.stderr ? 'pipe' : 'inherit'] });
  if (opts.stderr) child.stderr!.pipe(opts.stderr);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) {
      child.kill('SIGTERM');
      child.stdin?.end();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 25_000)))]);
      clearTimeout(timer);
      if (running()) child.kill('SIGKILL');
    }
    child.stdout?.destroy();
  };
  try {
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`stack process exited (${code}) before it was ready`)));
      setTimeout(() => reject(new Error(`stack not ready after ${timeoutMs / 1000}s`)), timeoutMs).unref();
    });
    return { ready: JSON.parse(line) as T, child, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
