// API key rotation: a new key for the same agent, while the old one keeps working for a grace period.
import { eq, sql } from 'drizzle-orm';
import { apiKeys } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { createApiKey } from './auth.ts';
import type { ServiceContext } from './context.ts';

/** The grace period when the caller names none (seconds). */
export const DEFAULT_GRACE_S = 3600;

/** A rotation's result: the new key (shown only here) and when the old one stops working. */
export interface RotatedKey {
  id: string;
  agent_id: string;
  key: string;
  created_at: string;
  previous: { id: string; expires_at: string };
}

/** Issues a new key for the agent of key `id` and ends `id` after `graceS` seconds (an earlier end is kept). */
export async function rotateApiKey(ctx: ServiceContext, id: string, graceS: number = DEFAULT_GRACE_S): Promise<RotatedKey> {
  const db = ctx.db();
  const [old] = await db.select({ agentId: apiKeys.agentId, revokedAt: apiKeys.revokedAt, expiresAt: apiKeys.expiresAt }).from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
  if (!old || old.revokedAt || (old.expiresAt && old.expiresAt <= new Date())) throw new AppError('NOT_FOUND', `no active API key ${id}`);
  const fresh = await createApiKey(ctx, old.agentId);
  const end = new Date(Date.now() + graceS * 1000);
  // Rotating twice never lengthens the old key's life.
  const [row] = await db
    .update(apiKeys)
    .set({ expiresAt: sql`least(coalesce(${apiKeys.expiresAt}, ${end}), ${end})` })
    .where(eq(apiKeys.id, id))
    .returning({ expiresAt: apiKeys.expiresAt });
  const expiresAt = row?.expiresAt ?? end;
  ctx.log.info('key_rotated', { key: id, new_key: fresh.id, agent: old.agentId, old_expires_at: expiresAt.toISOString() });
  return { ...fresh, previous: { id, expires_at: expiresAt.toISOString() } };
}
