// Runs the embedded stack plus the test oracle in its own Node process for the Worker integration
// tests; prints one JSON line {info, bindings, oracleUrl} when ready (see local/stack-process.ts).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runStackChild } from '../../local/stack-process.ts';
import { startOracle } from './oracle.ts';

const dir = await mkdtemp(path.join(tmpdir(), 'git-sandbox-test-'));
await runStackChild({ dir, removeDir: true, e2b: { createLatencyMs: 0 } }, async (stack) => {
  const oracle = await startOracle(stack);
  return { fields: { oracleUrl: oracle.url }, stop: oracle.stop };
});
