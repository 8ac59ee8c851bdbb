// Child-process entry: runs the embedded stack (Postgres, git server, local E2B host) for the
// benchmark in its own Node process, so the stack's event loop does not share the agents' clock.
// Prints one JSON line {info, bindings} when ready; stops on SIGTERM/SIGINT or when stdin closes.
import { startStack, stackInfo, workerBindings, type Stack } from '../local/stack.ts';

const dir = process.argv[2];
const createLatencyMs = Number(process.argv[3] ?? 0);
if (!dir) {
  console.error('usage: stack-process.ts <dir> [createLatencyMs]');
  process.exit(2);
}

let stack: Stack | undefined;
let stopping = false;

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(code || 1), 30_000);
  await stack?.stop().catch((e) => console.error(`stack stop failed: ${e}`));
  clearTimeout(timer);
  process.exit(code);
}
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
// The parent closing our stdin means it is gone: stop rather than leave Postgres behind.
process.stdin.on('end', () => void stop(0));
process.stdin.on('error', () => void stop(0));
process.stdin.resume();

try {
  stack = await startStack({ dir, e2b: { createLatencyMs }, log: (s) => process.stderr.write(`${new Date().toISOString()} ${s}\n`) });
  const info = stackInfo(stack);
  process.stdout.write(`${JSON.stringify({ info, bindings: workerBindings(info) })}\n`);
} catch (e) {
  console.error(`stack failed to start: ${e instanceof Error ? e.stack : String(e)}`);
  await stop(1);
}
