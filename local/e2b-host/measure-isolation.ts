// `node --experimental-strip-types local/e2b-host/measure-isolation.ts [creates] [runs]`: what
// isolation costs. Starts one host with isolation and one without, then times through the real
// SDK: sandbox create, a command round trip (`true`) and a file write+read. Prints one table.
import { Sandbox } from 'e2b';
import { startE2BHost, type E2BHost } from './index.ts';

const creates = Number(process.argv[2] ?? 20);
const runs = Number(process.argv[3] ?? 100);

function stats(ms: number[]): { p50: number; p95: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function measure(host: E2BHost): Promise<Record<string, ReturnType<typeof stats>>> {
  const opts = { apiKey: host.apiKey, apiUrl: host.url, sandboxUrl: host.url };
  const made: Sandbox[] = [];
  const create: number[] = [];
  for (let i = 0; i < creates; i++) create.push(await time(async () => { made.push(await Sandbox.create('base', opts)); }));
  const sbx = made[0];
  for (let i = 0; i < 5; i++) await sbx.commands.run('true');
  const run: number[] = [];
  for (let i = 0; i < runs; i++) run.push(await time(() => sbx.commands.run('true')));
  const git: number[] = [];
  for (let i = 0; i < Math.min(runs, 30); i++) git.push(await time(() => sbx.commands.run('git --version')));
  const file: number[] = [];
  for (let i = 0; i < runs; i++) file.push(await time(async () => { await sbx.files.write('m.txt', `x${i}`); await sbx.files.read('m.txt'); }));
  const kill: number[] = [];
  for (const s of made) kill.push(await time(() => s.kill()));
  return { 'create': stats(create), 'run `true`': stats(run), 'run `git --version`': stats(git), 'file write+read': stats(file), 'kill': stats(kill) };
}

const rows: string[] = [];
const results: Record<string, Record<string, ReturnType<typeof stats>>> = {};
for (const mode of ['auto', 'off'] as const) {
  const host = await startE2BHost({ isolation: mode });
  const label = host.isolation.enabled ? 'isolated' : `unisolated${mode === 'auto' ? ` (${host.isolation.reason})` : ''}`;
  try {
    results[label] = await measure(host);
  } finally {
    await host.stop();
  }
}
const labels = Object.keys(results);
const f = (n: number) => n.toFixed(1).padStart(7);
rows.push(`${'ms (p50 / p95)'.padEnd(22)}${labels.map((l) => l.padEnd(24)).join('')}`);
for (const op of Object.keys(results[labels[0]])) {
  rows.push(`${op.padEnd(22)}${labels.map((l) => `${f(results[l][op].p50)} / ${f(results[l][op].p95)}`.padEnd(24)).join('')}`);
}
process.stdout.write(`${creates} creates, ${runs} runs each, sequential, one client\n${rows.join('\n')}\n`);
