// Cost per task of one scenario: the service's CPU seconds (workerd, Postgres and the stack's Node
// process, not git or sandbox processes) and the idle sandbox-seconds the pool paid for.
import type { CpuProfile } from './cpu.ts';

/** The CPU roles (bench/cpu.ts) that count as the service. */
export const SERVICE_ROLES = ['workerd', 'postgres', 'stack node (git server, e2b host, ws proxy)'] as const;

/** Pool counter holding the idle seconds of members, summed (running idle clocks included). */
export const IDLE_COUNTER = 'pool_idle_sandbox_seconds_total';

const per = (x: number, tasks: number, digits: number) => (tasks > 0 ? Number((x / tasks).toFixed(digits)) : null);

/** Service CPU seconds per completed task while the agents ran; null without a CPU profile or tasks. */
export function serviceCpuPerTask(cpu: CpuProfile | null, tasks: number): number | null {
  if (!cpu) return null;
  return per(SERVICE_ROLES.reduce((a, k) => a + (cpu.by_role_s[k] ?? 0), 0), tasks, 4);
}

/** Idle sandbox-seconds per completed task: the counter's growth over the agents' run. */
export function idleSandboxPerTask(before: Record<string, number>, after: Record<string, number>, tasks: number): number | null {
  if (after[IDLE_COUNTER] === undefined) return null;
  return per(Math.max(0, after[IDLE_COUNTER] - (before[IDLE_COUNTER] ?? 0)), tasks, 3);
}
