// CPU profiles of the Worker's isolate through wrangler's DevTools inspector: start sampling, stop,
// and fold the samples into self time per function (where the coordinator's CPU goes).
import { writeFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function over a profile. */
export interface HotFunction {
  fn: string;
  self_ms: number;
  share: number;
}

/** A running profile: stop() ends sampling and returns the hottest functions (the raw profile goes to `file`). */
export interface Profiling {
  stop(file?: string): Promise<HotFunction[]>;
}

/** Starts sampling the first inspector target of the wrangler dev on `port`. */
export async function startProfile(port: number, intervalUs = 200): Promise<Profiling> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(5000) })).json()) as { webSocketDebuggerUrl?: string }[];
  const wsUrl = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!wsUrl) throw new Error(`no inspector target on port ${port}`);
  // wrangler's inspector proxy refuses a WebSocket upgrade without an allowed Origin.
  const ws = new WebSocket(wsUrl, { headers: { Origin: 'http://127.0.0.1' } });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`inspector ${wsUrl}: connection failed`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, (r: { result?: unknown; error?: { message: string } }) => void>();
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
  });
  const send = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`inspector ${method}: no answer`)), 60_000);
      pending.set(id, (r) => {
        clearTimeout(timer);
        pending.delete(id);
        if (r.error) reject(new Error(`inspector ${method}: ${r.error.message}`));
        else resolve(r.result as T);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: intervalUs });
  await send('Profiler.start');
  return {
    async stop(file?: string) {
      try {
        const { profile } = await send<{ profile: CpuProfile }>('Profiler.stop');
        if (file) await writeFile(file, JSON.stringify(profile));
        return hottest(profile);
      } finally {
        ws.close();
      }
    },
  };
}

/** Self time per function (name + module + line), largest first; idle and GC kept as their own rows. */
export function hottest(p: CpuProfile, top = 25): HotFunction[] {
  const byNode = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const f = byNode.get(id)?.callFrame;
    const key = f ? `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-1)[0]}:${f.lineNumber + 1}` : '?';
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, ms]) => ({ fn, self_ms: Number(ms.toFixed(1)), share: Number((ms / Math.max(1e-9, total)).toFixed(3)) }));
}
