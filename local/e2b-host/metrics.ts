// Per-sandbox CPU and memory samples for `GET /sandboxes/{id}/metrics`, taken from the host's
// /proc at a fixed interval: an isolated sandbox's processes are those of its pid namespace, an
// unisolated one's those of its process groups. CPU of a process reaped outside the sandbox (a
// command's own top-level process) is not counted after it ends.
import os from 'node:os';
import { scanProcesses, type ProcInfo } from './proc-scan.ts';
import type { Sandbox } from './sandbox.ts';

/** One sample in the wire shape of the metrics endpoint. */
export interface MetricSample {
  timestamp: string; timestampUnix: number; cpuCount: number; cpuUsedPct: number;
  memUsed: number; memTotal: number; memCache: number; diskUsed: number; diskTotal: number;
}

const CLOCK_TICKS = 100;
const PAGE = 4096;
const KEEP = 720;

interface Series { samples: MetricSample[]; lastTicks: number; lastAt: number }

/** Samples every live sandbox every `intervalMs` while there is at least one. */
export class MetricsSampler {
  private readonly series = new Map<string, Series>();
  private readonly intervalMs: number;
  private readonly sandboxes: () => Sandbox[];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(intervalMs: number, sandboxes: () => Sandbox[]) {
    this.intervalMs = intervalMs;
    this.sandboxes = sandboxes;
  }

  /** Starts sampling (idempotent); the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Drops a killed sandbox's samples. */
  forget(id: string): void { this.series.delete(id); }

  /** Samples whose time is within [startS, endS] (unix seconds; either bound optional). */
  samples(id: string, startS?: number, endS?: number): MetricSample[] {
    return (this.series.get(id)?.samples ?? []).filter((m) =>
      (startS === undefined || m.timestampUnix >= startS) && (endS === undefined || m.timestampUnix <= endS));
  }

  /** Takes one sample of every running sandbox. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const live = this.sandboxes().filter((s) => s.state === 'running');
      if (live.length === 0) return;
      const procs = await scanProcesses();
      const now = Date.now();
      for (const sbx of live) this.record(sbx, this.members(sbx, procs), now);
    } finally {
      this.busy = false;
    }
  }

  private members(sbx: Sandbox, procs: ProcInfo[]): ProcInfo[] {
    if (sbx.root) {
      const ns = sbx.root.pidNs;
      return procs.filter((p) => p.pidNs === ns);
    }
    const groups = new Set([...sbx.processes.groups(), ...sbx.lingeringGroups]);
    return procs.filter((p) => groups.has(p.pgrp));
  }

  private record(sbx: Sandbox, members: ProcInfo[], now: number): void {
    let s = this.series.get(sbx.id);
    if (!s) { s = { samples: [], lastTicks: 0, lastAt: sbx.startedAt.getTime() }; this.series.set(sbx.id, s); }
    const ticks = members.reduce((a, p) => a + p.ticks, 0);
    const cpus = os.availableParallelism();
    const elapsed = Math.max(0.001, (now - s.lastAt) / 1000);
    const used = Math.max(0, ticks - s.lastTicks) / CLOCK_TICKS;
    s.lastTicks = ticks;
    s.lastAt = now;
    s.samples.push({
      timestamp: new Date(now).toISOString(),
      timestampUnix: Math.floor(now / 1000),
      cpuCount: cpus,
      cpuUsedPct: Math.round(Math.min(100, (used / elapsed / cpus) * 100) * 100) / 100,
      memUsed: members.reduce((a, p) => a + p.rssPages, 0) * PAGE,
      memTotal: os.totalmem(),
      memCache: 0,
      diskUsed: 0,
      diskTotal: 0,
    });
    if (s.samples.length > KEEP) s.samples.splice(0, s.samples.length - KEEP);
  }
}
