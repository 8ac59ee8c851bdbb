// Child-process entry: runs the embedded stack (Postgres, git server, local E2B host) for the
// benchmark in its own Node process, so the stack's event loop does not share the agents' clock.
// Prints one JSON line {info, bindings} when ready (see local/stack-process.ts).
import { runStackChild } from '../local/stack-process.ts';

const dir = process.argv[2];
const createLatencyMs = Number(process.argv[3] ?? 0);
if (!dir) {
  console.error('usage: stack-process.ts <dir> [createLatencyMs]');
  process.exit(2);
}
await runStackChild({ dir, e2b: { createLatencyMs }, log: (s) => process.stderr.write(`${new Date().toISOString()} ${s}\n`) });
