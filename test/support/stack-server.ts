// Runs the embedded stack plus the test oracle in its own Node process for the Worker integration
// tests; prints one JSON line {info, oracleUrl, bindings} when ready and stops on SIGTERM/SIGINT.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startStack, stackInfo, workerBindings } from '../../local/stack.ts';
import { startOracle } from './oracle.ts';

const dir = await mkdtemp(path.join(tmpdir(), 'git-sandbox-test-'));
const stack = await startStack({ dir, e2b: { createLatencyMs: 0 } });
const oracle = await startOracle(stack);
const info = stackInfo(stack);
process.stdout.write(`${JSON.stringify({ info, oracleUrl: oracle.url, bindings: workerBindings(info) })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await oracle.stop().catch(() => {});
  await stack.stop().catch(() => {});
  await rm(dir, { recursive: true, force: true }).catch(() => {});
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent closing our stdin means it is gone: stop rather than leave orphans.
process.stdin.on('end', stop);
process.stdin.resume();
