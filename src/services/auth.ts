// API keys: hashed at rest (SHA-256), compared in constant time, failures rate-limited and hits
// cached per isolate (auth-limiter.ts); admin and metrics tokens.
import { and, eq, gt, isNull, or } from 'drizzle-orm';
import { apiKeys } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { randomId, randomSecret, sha256Hex, timingSafeEqualStr } from '../lib/crypto.ts';
import { KEY_CACHE_TTL_MS, KEY_STALE_IF_ERROR_MS, authFailures, failureSubjects, keyCache } from './auth-limiter.ts';
import type { ServiceContext } from './context.ts';

/** Extracts the bearer token from an Authorization header. */
export function bearer(header: string | undefined | null): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1] : null;
}

/**
 * Resolves a bearer API key to its agent id, or throws 401. A client (its address, and the key it
 * presents) past AUTH_FAIL_LIMIT failures in AUTH_FAIL_WINDOW_S gets 429 without a database query;
 * a key that resolved is served from this isolate's cache for up to KEY_CACHE_TTL_MS.
 */
export async function authenticate(ctx: ServiceContext, header: string | undefined | null, ip = 'unknown'): Promise<string> {
  const now = Date.now();
  const limit = { limit: ctx.cfg.AUTH_FAIL_LIMIT, windowMs: ctx.cfg.AUTH_FAIL_WINDOW_S * 1000 };
  const key = bearer(header);
  const hash = key ? await sha256Hex(key) : null;
  const cached = hash ? keyCache.get(hash, now) : undefined;
  if (cached) return cached;
  const subjects = failureSubjects(ip, hash);
  const waitMs = Math.max(...subjects.map((s) => authFailures.waitMs(s, now, limit)));
  if (waitMs > 0) {
    throw new AppError('RATE_LIMITED', `too many failed authentications from this client; retry in ${Math.ceil(waitMs / 1000)} s`, { retryAfterS: Math.ceil(waitMs / 1000) });
  }
  if (!key || !hash) {
    authFailures.record(subjects, now, limit);
    throw new AppError('UNAUTHORIZED', 'missing bearer API key (Authorization: Bearer <key>)');
  }
  let rows: { agentId: string; keyHash: string; expiresAt: Date | null }[];
  try {
    rows = await ctx.db()
      .select({ agentId: apiKeys.agentId, keyHash: apiKeys.keyHash, expiresAt: apiKeys.expiresAt })
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, new Date()))))
      .limit(1);
  } catch (e) {
    const reason = String(e instanceof Error && e.cause ? e.cause : e);
    // A key this isolate resolved lately is still accepted while the database fails (KEY_STALE_IF_ERROR_MS).
    const known = keyCache.stale(hash, now);
    if (known) {
      ctx.log.warn('auth_from_stale_cache', { agent: known, error: reason });
      return known;
    }
    throw new AppError('DATABASE_UNAVAILABLE', 'the database is unavailable; try again', { internal: reason, retryAfterS: 5 });
  }
  const row = rows[0];
  if (!row || !timingSafeEqualStr(row.keyHash, hash)) {
    authFailures.record(subjects, now, limit);
    throw new AppError('UNAUTHORIZED', 'invalid or revoked API key');
  }
  // A key with an expiry (rotated, in its grace period) is never cached past it.
  const expiry = row.expiresAt?.getTime() ?? Infinity;
  keyCache.set(hash, row.agentId, Math.min(now + KEY_CACHE_TTL_MS, expiry), Math.min(now + KEY_CACHE_TTL_MS + KEY_STALE_IF_ERROR_MS, expiry));
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

/** Revokes a key (idempotent for an already revoked key; 404 for an unknown one); this isolate stops honouring it at once. */
export async function revokeApiKey(ctx: ServiceContext, id: string): Promise<void> {
  const rows = await ctx.db().update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id, keyHash: apiKeys.keyHash });
  if (!rows.length) throw new AppError('NOT_FOUND', `no API key ${id}`);
  for (const r of rows) keyCache.forget(r.keyHash);
}
