// The rollout flag: a stable hash of the agent id decides pooled vs direct.
import { bucketOf } from '../lib/crypto.ts';

export type Mode = 'pooled' | 'direct';

/** Agents whose bucket (0–99) is below `pooledPercent` use the pool; the rest the direct path. */
export function modeFor(agentId: string, pooledPercent: number): Mode {
  return bucketOf(agentId) < pooledPercent ? 'pooled' : 'direct';
}
