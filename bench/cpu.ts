// Where the CPU goes during a scenario, from /proc (Linux): CPU seconds of the processes this run
// started, by role, next to the whole machine's busy time (other users' work shows up as "other").
// Short-lived children (git, bash, Postgres backends) are counted through their parent's reaped-child
// time (cutime/cstime) once they exit, plus their own time while alive.
import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ: clock ticks per second of /proc times on Linux

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  self: number;
  children: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    // Fields after "(comm) ": state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based overall.
    return { pid, ppid: Number(f[1]), comm, self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(Number(d));
    if (st) out.push(st);
  }
  return out;
}

function machineBusyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: busy = all but idle and iowait.
  return f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0);
}

/** CPU ticks by role at one instant. */
export type CpuSample = { at: number; machine: number; roles: Record<string, number> };

/** Roots of the process trees to attribute: the stack child and the wrangler group leader. */
export interface CpuRoots {
  stackPid?: number;
  wranglerPid?: number;
}

function role(p: ProcStat, under: 'stack' | 'wrangler'): string {
  if (under === 'wrangler') return p.comm.startsWith('workerd') ? 'workerd' : 'wrangler (node)';
  if (p.comm === 'postgres' || p.comm.startsWith('postgres')) return 'postgres';
  if (p.comm === 'node' || p.comm.startsWith('node')) return 'stack node (git server, e2b host, ws proxy)';
  return 'git + sandbox processes';
}

/** Samples CPU ticks of the run's processes (by role), the bench itself and the machine. */
export function sampleCpu(roots: CpuRoots): CpuSample | null {
  try {
    const stats = allStats();
    const kids = new Map<number, ProcStat[]>();
    for (const s of stats) kids.set(s.ppid, [...(kids.get(s.ppid) ?? []), s]);
    const roles: Record<string, number> = {};
    const add = (k: string, v: number) => (roles[k] = (roles[k] ?? 0) + v);
    const walk = (pid: number | undefined, under: 'stack' | 'wrangler') => {
      if (!pid) return;
      const root = stats.find((s) => s.pid === pid);
      if (!root) return;
      const stack = [root];
      while (stack.length) {
        const p = stack.pop()!;
        const r = role(p, under);
        add(r, p.self);
        // Reaped children: a node parent's are the git / sandbox processes it spawned; Postgres's are backends.
        add(r === 'stack node (git server, e2b host, ws proxy)' ? 'git + sandbox processes' : r, p.children);
        stack.push(...(kids.get(p.pid) ?? []));
      }
    };
    walk(roots.stackPid, 'stack');
    walk(roots.wranglerPid, 'wrangler');
    const me = process.cpuUsage();
    add('bench (agents client)', ((me.user + me.system) / 1e6) * TICK);
    return { at: Date.now(), machine: machineBusyTicks(), roles };
  } catch {
    return null; // not Linux, or /proc unreadable
  }
}

/** CPU seconds by role between two samples, plus the machine's busy seconds and its capacity. */
export interface CpuProfile {
  wall_s: number;
  capacity_s: number;
  machine_busy_s: number;
  by_role_s: Record<string, number>;
  /** Busy time of processes this run did not start (other users, the OS). */
  other_s: number;
}

/** The difference of two samples. */
export function cpuDiff(a: CpuSample | null, b: CpuSample | null, cores: number): CpuProfile | null {
  if (!a || !b) return null;
  const wall = (b.at - a.at) / 1000;
  const by: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a.roles), ...Object.keys(b.roles)])) by[k] = Number((Math.max(0, (b.roles[k] ?? 0) - (a.roles[k] ?? 0)) / TICK).toFixed(1));
  const busy = (b.machine - a.machine) / TICK;
  const ours = Object.values(by).reduce((x, y) => x + y, 0);
  return { wall_s: Number(wall.toFixed(1)), capacity_s: Number((wall * cores).toFixed(1)), machine_busy_s: Number(busy.toFixed(1)), by_role_s: by, other_s: Number(Math.max(0, busy - ours).toFixed(1)) };
}

/** Process counts seen by a background sampler: machine-wide, and the most frequent commands. */
export interface ProcCounts {
  samples: number;
  procs_mean: number;
  procs_max: number;
  /** Mean number of live processes per command name (top ten). */
  by_comm_mean: Record<string, number>;
}

/** Counts processes once a second until stopped (the scrub script's cost grows with the process count). */
export function startProcSampler(intervalMs = 1000): { stop(): ProcCounts } {
  let samples = 0;
  let total = 0;
  let max = 0;
  const comm: Record<string, number> = {};
  const tick = () => {
    try {
      const stats = allStats();
      samples++;
      total += stats.length;
      max = Math.max(max, stats.length);
      for (const s of stats) comm[s.comm] = (comm[s.comm] ?? 0) + 1;
    } catch {
      // not Linux
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      const top = Object.entries(comm).sort((a, b) => b[1] - a[1]).slice(0, 10);
      return {
        samples,
        procs_mean: samples ? Math.round(total / samples) : 0,
        procs_max: max,
        by_comm_mean: Object.fromEntries(top.map(([k, v]) => [k, Number((v / Math.max(1, samples)).toFixed(1))])),
      };
    },
  };
}
