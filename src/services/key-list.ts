// The admin's view of API keys: every key's id, agent and lifetime, never the key or its hash.
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { KeyPage, KeysQuery } from '../contract-read.ts';
import { apiKeys } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { ServiceContext } from './context.ts';

/** A page of API keys, oldest first, keyed on (created_at, id); the cursor is `<created_at in epoch microseconds>.<id>`. */
export async function listApiKeys(ctx: ServiceContext, q: KeysQuery): Promise<KeyPage> {
  const where: SQL[] = [];
  if (q.agent_id) where.push(eq(apiKeys.agentId, q.agent_id));
  if (q.cursor) {
    const at = q.cursor.indexOf('.');
    // Postgres keeps microseconds, so the cursor does too (a millisecond cursor would repeat rows).
    const us = q.cursor.slice(0, at);
    where.push(sql`(${apiKeys.createdAt}, ${apiKeys.id}) > (timestamptz 'epoch' + ${us}::bigint * interval '1 microsecond', ${q.cursor.slice(at + 1)})`);
  }
  const columns = {
    id: apiKeys.id,
    agentId: apiKeys.agentId,
    createdAt: apiKeys.createdAt,
    revokedAt: apiKeys.revokedAt,
    expiresAt: apiKeys.expiresAt,
    us: sql<string>`(extract(epoch from ${apiKeys.createdAt}) * 1000000)::bigint::text`,
  };
  let rows: { id: string; agentId: string; createdAt: Date; revokedAt: Date | null; expiresAt: Date | null; us: string }[];
  try {
    rows = await ctx.db().select(columns)
      .from(apiKeys)
      .where(where.length ? and(...where) : undefined)
      .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
      .limit(q.limit);
  } catch (e) {
    throw new AppError('DATABASE_UNAVAILABLE', 'the database is unavailable; try again', { internal: String(e instanceof Error && e.cause ? e.cause : e), retryAfterS: 5 });
  }
  const last = rows.at(-1);
  return {
    keys: rows.map((k) => ({ id: k.id, agent_id: k.agentId, created_at: k.createdAt.toISOString(), revoked_at: k.revokedAt?.toISOString() ?? null, expires_at: k.expiresAt?.toISOString() ?? null })),
    next_cursor: rows.length === q.limit && last ? `${last.us}.${last.id}` : null,
  };
}
