// The only place drizzle is built: a Neon serverless WebSocket Pool (transactions work) per request.
import { Pool, neonConfig } from '@neondatabase/serverless';
import { drizzle, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import * as schema from './schema.ts';
import { AppError } from '../errors.ts';

export type Db = NeonDatabase<typeof schema>;

/** Connect and statement timeout of every database call. */
export const DB_TIMEOUT_MS = 4000;

/** A database handle; `close()` ends its pool (call it once the request's work is done). */
export interface DbHandle {
  db: Db;
  pool: Pool;
  close(): Promise<void>;
}

interface DbEnv {
  DATABASE_URL?: string;
  NEON_WS_PROXY?: string;
}

/** Builds drizzle over a fresh Neon Pool. NEON_WS_PROXY (host:port/path) selects a plain-ws proxy, as the embedded stack uses. */
export function createDb(env: DbEnv): DbHandle {
  if (!env.DATABASE_URL) throw new AppError('DATABASE_UNAVAILABLE', 'database is not configured (DATABASE_URL)');
  const proxy = env.NEON_WS_PROXY;
  if (proxy) {
    neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
  // One connection per request: a Worker cannot share sockets across requests, and a second
  // connection would cost another handshake for no gain (queries of one request run in order).
  // Every call is bounded: a frozen or unreachable database answers 503 within seconds, never a hang.
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 1, connectionTimeoutMillis: DB_TIMEOUT_MS, query_timeout: DB_TIMEOUT_MS, statement_timeout: DB_TIMEOUT_MS });
  // A dropped connection must surface as a query error, not an unhandled event.
  pool.on('error', () => {});
  const db = drizzle({ client: pool, schema });
  let closed = false;
  return {
    db,
    pool,
    close: async () => {
      if (closed) return;
      closed = true;
      await pool.end().catch(() => {});
    },
  };
}

/** Runs `fn` with a short-lived database handle and closes it afterwards. */
export async function withDb<T>(env: DbEnv, fn: (db: Db) => Promise<T>): Promise<T> {
  const h = createDb(env);
  try {
    return await fn(h.db);
  } finally {
    await h.close();
  }
}
