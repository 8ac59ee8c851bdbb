// API keys: hashed at rest (SHA-256), compared in constant time; admin and metrics tokens.
import { and, eq, gt, isNull, or } from 'drizzle-orm';
import { apiKeys } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { randomId, randomSecret, sha256Hex, timingSafeEqualStr } from '../lib/crypto.ts';
import type { ServiceContext } from './context.ts';

/** Extracts the bearer token from an Authorization header. */
export function bearer(header: string | undefined | null): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1] : null;
}

/** Resolves a bearer API key to its agent id, or throws 401. */
export async function authenticate(ctx: ServiceContext, header: string | undefined | null): Promise<string> {
  const key = bearer(header);
  if (!key) throw new AppError('UNAUTHORIZED', 'missing bearer API key (Authorization: Bearer <key>)');
  const hash = await sha256Hex(key);
  let rows: { agentId: string; keyHash: string }[];
  try {
    rows = await ctx.db()
      .select({ agentId: apiKeys.agentId, keyHash: apiKeys.keyHash })
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, new Date()))))
      .limit(1);
  } catch (e) {
    throw new AppError('DATABASE_UNAVAILABLE', 'the database is unavailable; try again', { internal: String(e instanceof Error && e.cause ? e.cause : e), retryAfterS: 5 });
  }
  const row = rows[0];
  if (!row || !timingSafeEqualStr(row.keyHash, hash)) throw new AppError('UNAUTHORIZED', 'invalid or revoked API key');
  return row.agentId;
}

/** Throws 401 unless the header carries `expected` (constant-time). An unset token disables the endpoint. */
export function requireToken(header: string | undefined | null, expected: string, what: string): void {
  const got = bearer(header);
  if (!expected) throw new AppError('FORBIDDEN', `${what} is disabled: its token is not configured`);
  if (!got || !timingSafeEqualStr(got, expected)) throw new AppError('UNAUTHORIZED', `invalid ${what} token`);
}

/** Creates an API key for an agent; the key itself is returned only here. */
export async function createApiKey(ctx: ServiceContext, agentId: string): Promise<{ id: string; agent_id: string; key: string; created_at: string }> {
  const key = randomSecret('gsk');
  const id = randomId('key', 8);
  const [row] = await ctx.db().insert(apiKeys).values({ id, agentId, keyHash: await sha256Hex(key) }).returning({ createdAt: apiKeys.createdAt });
  return { id, agent_id: agentId, key, created_at: row.createdAt.toISOString() };
}

/** Revokes a key (idempotent for an already revoked key; 404 for an unknown one). */
export async function revokeApiKey(ctx: ServiceContext, id: string): Promise<void> {
  const rows = await ctx.db().update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id });
  if (!rows.length) throw new AppError('NOT_FOUND', `no API key ${id}`);
}
