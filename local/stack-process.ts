// Child side of the embedded stack in its own Node process: runs the stack and prints one JSON line
// when ready (the parent side is local/stack-spawn.ts). The tests and the benchmark use it so the
// stack never shares an event loop or module resolution with the code that drives it.
import { rm } from 'node:fs/promises';
import { startStack, stackInfo, workerBindings, type Stack, type StackOptions } from './stack.ts';

/** Something started beside the stack in the child (e.g. a test helper server). */
export interface StackExtra {
  fields: Record<string, unknown>;
  stop(): Promise<void>;
}

/**
 * Child side: starts the stack (plus `extend`), prints `{info, bindings, ...fields}` as one line,
 * and stops everything on SIGTERM/SIGINT or when the parent closes stdin. `removeDir` deletes
 * `opts.dir` after stopping.
 */
export async function runStackChild(opts: StackOptions & { dir: string; removeDir?: boolean }, extend?: (stack: Stack) => Promise<StackExtra>): Promise<void> {
  let stack: Stack | undefined;
  let extra: StackExtra | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => process.exit(code || 1), 30_000);
    await extra?.stop().catch(() => {});
    await stack?.stop().catch((e) => console.error(`stack stop failed: ${e}`));
    if (opts.removeDir) await rm(opts.dir, { recursive: true, force: true }).catch(() => {});
    clearTimeout(timer);
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  // The parent closing our stdin means it is gone: stop rather than leave Postgres behind.
  process.stdin.on('end', () => void stop(0));
  process.stdin.on('error', () => void stop(0));
  process.stdin.resume();
  try {
    stack = await startStack(opts);
    extra = await extend?.(stack);
    const info = stackInfo(stack);
    process.stdout.write(`${JSON.stringify({ info, bindings: workerBindings(info), ...extra?.fields })}\n`);
  } catch (e) {
    console.error(`stack failed to start: ${e instanceof Error ? e.stack : String(e)}`);
    await stop(1);
  }
}
