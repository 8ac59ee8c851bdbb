// Reads the host's /proc: every process with its pid namespace, process group, CPU ticks and
// resident memory. Used to find an isolated sandbox's processes (pause, metrics, tests) and to
// sample an unisolated sandbox's process groups.
import { readdir, readFile, readlink } from 'node:fs/promises';

/** One host process as /proc shows it. */
export interface ProcInfo {
  pid: number;
  /** `pid:[inode]` of its pid namespace ('' when unreadable). */
  pidNs: string;
  pgrp: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
  /** Resident set size in pages. */
  rssPages: number;
  /** Process state letter (R, S, Z, …). */
  state: string;
}

/** Parses /proc/<pid>/stat (the command may contain spaces and parentheses). */
export function parseStat(pid: number, text: string, pidNs: string): ProcInfo | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); field n is f[n - 3].
  const n = (i: number) => Number(f[i - 3]) || 0;
  return { pid, pidNs, pgrp: n(5), ticks: n(14) + n(15) + n(16) + n(17), rssPages: n(24), state: f[0] ?? '?' };
}

/** Every process on the host (processes that vanish while being read are skipped). */
export async function scanProcesses(): Promise<ProcInfo[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  const out = await Promise.all(pids.map(async (pid) => {
    try {
      const [text, ns] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readlink(`/proc/${pid}/ns/pid`).catch(() => '')]);
      return parseStat(pid, text, ns);
    } catch {
      return undefined;
    }
  }));
  return out.filter((p): p is ProcInfo => p !== undefined);
}

/** Host pids of the live (non-zombie) processes in pid namespace `pidNs`. */
export async function processesInNamespace(pidNs: string): Promise<number[]> {
  return (await scanProcesses()).filter((p) => p.pidNs === pidNs && p.state !== 'Z' && p.state !== 'X').map((p) => p.pid);
}
