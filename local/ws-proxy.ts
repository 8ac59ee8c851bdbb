// WebSocket→TCP proxy speaking the protocol of Neon's wsproxy, so `@neondatabase/serverless` reaches the
// embedded Postgres exactly as it reaches Neon: `ws://HOST:PORT/v1?address=<host>:<port>`, binary frames
// piped both ways. Only loopback targets are allowed.
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';

/** Options for startWsProxy. */
export interface WsProxyOptions {
  /** Listen port. Default: a free port. */
  port?: number;
  /** Listen host. Default 127.0.0.1. */
  host?: string;
  log?: (s: string) => void;
}

/** A running proxy; `url` is the value for `neonConfig.wsProxy` / NEON_WS_PROXY. */
export interface WsProxyHandle {
  url: string;
  port: number;
  /** Open client connections right now. */
  connections(): number;
  stop(): Promise<void>;
}

/** Parses `host:port` (IPv6 in brackets) and returns it only when it names a loopback address. */
export function parseLoopbackAddress(address: string | null): { host: string; port: number } | null {
  if (!address) return null;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  if (!m) return null;
  const host = (m[1] ?? m[2]).toLowerCase();
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  if (host === 'localhost') return { host: '127.0.0.1', port };
  if (host === '::1') return { host, port };
  if (net.isIPv4(host) && host.startsWith('127.')) return { host, port };
  return null;
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Starts the proxy on 127.0.0.1 (by default) and resolves once it listens. */
export async function startWsProxy(opts: WsProxyOptions = {}): Promise<WsProxyHandle> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const live = new Set<{ ws: WebSocket; tcp: net.Socket }>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('websocket upgrade required\n');
  });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const target = parseLoopbackAddress(url.searchParams.get('address'));
    if (!target) {
      log(`ws-proxy refused target ${JSON.stringify(url.searchParams.get('address'))}`);
      return refuse(socket, 403, 'Forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => pipe(ws, target));
  });

  function pipe(ws: WebSocket, target: { host: string; port: number }): void {
    const tcp = net.connect({ host: target.host, port: target.port });
    tcp.setNoDelay(true);
    const conn = { ws, tcp };
    live.add(conn);
    // createWebSocketStream gives backpressure both ways; ending it closes the WebSocket cleanly.
    const stream = createWebSocketStream(ws);
    const done = () => {
      if (!live.delete(conn)) return;
      tcp.destroy();
      if (ws.readyState === ws.OPEN) ws.close(1000);
      else if (ws.readyState === ws.CONNECTING) ws.terminate();
    };
    tcp.on('error', (e) => {
      log(`ws-proxy tcp ${target.host}:${target.port}: ${e.message}`);
      if (ws.readyState === ws.OPEN) ws.close(1011, 'upstream error');
      done();
    });
    stream.on('error', () => done());
    tcp.on('close', done);
    ws.on('close', () => {
      tcp.end();
      live.delete(conn);
    });
    stream.pipe(tcp);
    tcp.pipe(stream);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;

  return {
    url: `${hostPart}:${port}/v1`,
    port,
    connections: () => live.size,
    stop: async () => {
      for (const { ws, tcp } of live) {
        ws.terminate();
        tcp.destroy();
      }
      live.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      wss.close();
    },
  };
}
