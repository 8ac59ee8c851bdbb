// A stub of the E2B API for the capacity bench: answers the calls the PoolCoordinator's release
// path makes (connect, kill, and the scrub's process list, stat of ~ and one command) at once, with
// a canned "clean" result, so the coordinator's own cost is measured without any sandbox work.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { envelope } from '../../local/e2b-host/connect-codec.ts';

/** Request counts of the stub, by route. */
export type StubCounts = Record<string, number>;

/** A running stub. */
export interface ProviderStub {
  url: string;
  apiKey: string;
  counts(): StubCounts;
  stop(): Promise<void>;
}

const SANDBOX = (id: string) => ({
  sandboxID: id, templateID: 'base', alias: 'base', clientID: 'bench', envdVersion: '0.6.4',
  envdAccessToken: 'stub', domain: null, trafficAccessToken: null,
});

// What the scrub script prints when it verified a member clean and found no clone to rebuild.
const SCRUB_STDOUT = Buffer.from('__GS_CLEAN=1\n').toString('base64');

function json(res: ServerResponse, status: number, body: unknown): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': buf.length });
  res.end(buf);
}

function route(req: IncomingMessage, res: ServerResponse, count: (k: string) => void): void {
  const url = new URL(req.url ?? '/', 'http://stub');
  const p = url.pathname;
  const m = req.method ?? 'GET';
  let k = 'other';
  if (m === 'POST' && /^\/v2\/sandboxes\/[^/]+\/connect$/.test(p)) {
    k = 'connect';
    json(res, 200, SANDBOX(decodeURIComponent(p.split('/')[3])));
  } else if (m === 'DELETE' && p.startsWith('/sandboxes/')) {
    k = 'kill';
    res.writeHead(204).end();
  } else if (m === 'GET' && /^\/sandboxes\/[^/]+$/.test(p)) {
    k = 'info';
    json(res, 200, { ...SANDBOX(decodeURIComponent(p.split('/')[2])), state: 'running', startedAt: new Date().toISOString(), endAt: new Date(Date.now() + 3_600_000).toISOString(), cpuCount: 2, memoryMB: 512, diskSizeMB: 1024, metadata: {} });
  } else if (m === 'GET' && p === '/v2/sandboxes') {
    k = 'list';
    json(res, 200, []);
  } else if (p === '/process.Process/List') {
    k = 'process_list';
    json(res, 200, { processes: [] });
  } else if (p === '/filesystem.Filesystem/Stat') {
    k = 'stat';
    json(res, 200, { entry: { name: 'user', type: 'FILE_TYPE_DIRECTORY', path: '/home/user', size: '4096', mode: 493, permissions: 'drwxr-xr-x', owner: 'user', group: 'user', modifiedTime: new Date().toISOString() } });
  } else if (p === '/process.Process/Start') {
    k = 'start';
    res.writeHead(200, { 'content-type': 'application/connect+json' });
    res.write(Buffer.concat([
      envelope(0, { event: { start: { pid: 1000 } } }),
      envelope(0, { event: { data: { stdout: SCRUB_STDOUT } } }),
      envelope(0, { event: { end: { exited: true, status: 'exit status 0' } } }),
    ]));
    res.end(envelope(2, {}));
  } else if (p === '/health') {
    k = 'health';
    res.writeHead(204).end();
  } else {
    json(res, 404, { code: 404, message: `the capacity stub does not serve ${m} ${p}` });
  }
  count(k);
}

/** Starts the stub on a free loopback port. */
export async function startProviderStub(): Promise<ProviderStub> {
  const counts: StubCounts = {};
  const server = createServer((req, res) => {
    // Request bodies are not needed; drain them so keep-alive connections stay usable.
    req.resume();
    req.on('end', () => route(req, res, (k) => (counts[k] = (counts[k] ?? 0) + 1)));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey: 'capacity-stub',
    counts: () => ({ ...counts }),
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
