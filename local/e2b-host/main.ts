// CLI: `node local/e2b-host/main.ts --port N [--create-latency-ms L] [--max-sandboxes M]
// [--api-key K] [--root DIR] [--default-timeout-s S] [--spawn-workers W] [--host H] [--isolation auto|off|required]
// [--quiet]`; prints one JSON line.
import { parseArgs } from 'node:util';
import { startE2BHost } from './index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string' },
    'api-key': { type: 'string' },
    root: { type: 'string' },
    'create-latency-ms': { type: 'string' },
    'max-sandboxes': { type: 'string' },
    'default-timeout-s': { type: 'string' },
    'spawn-workers': { type: 'string' },
    isolation: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write('usage: node local/e2b-host/main.ts --port N [--host H] [--create-latency-ms L] [--max-sandboxes M] [--api-key K] [--root DIR] [--default-timeout-s S] [--spawn-workers W] [--isolation auto|off|required] [--quiet]\n');
  process.exit(0);
}

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const host = await startE2BHost({
  port: num(values.port),
  host: values.host,
  apiKey: values['api-key'] ?? process.env.E2B_LOCAL_API_KEY,
  root: values.root,
  createLatencyMs: num(values['create-latency-ms']),
  maxSandboxes: num(values['max-sandboxes']),
  defaultTimeoutS: num(values['default-timeout-s']),
  spawnWorkers: num(values['spawn-workers']),
  isolation: values.isolation as 'auto' | 'off' | 'required' | undefined,
  log: values.quiet ? undefined : (line) => process.stderr.write(`[e2b-host] ${line}\n`),
});

// The key is printed once on stdout for the caller that started us; it is never logged.
process.stdout.write(`${JSON.stringify({ url: host.url, apiKey: host.apiKey, root: host.root, isolation: host.isolation })}\n`);
if (!host.isolation.enabled) process.stderr.write(`[e2b-host] WARNING: sandboxes are NOT isolated: ${host.isolation.reason}\n`);

let stopping = false;
const shutdown = (sig: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`[e2b-host] ${sig}: stopping\n`);
  host.stop().then(() => process.exit(0), () => process.exit(1));
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
