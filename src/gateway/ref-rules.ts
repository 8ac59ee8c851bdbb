// Which ref updates a gateway principal may make: pure decisions over receive-pack commands.
import { isZeroOid, type RefCommand } from './pkt-line.ts';

/** Prefix of the private refs that hold queued base-branch entries on the remote. */
export const QUEUE_PREFIX = 'refs/git-sandbox/queue';

/** The agent id of the service-owned lander leases (not a valid API-key agent id). */
export const LANDER_AGENT = '@lander';

/** What the gateway knows about the pusher. */
export interface PushPrincipal {
  kind: 'lease' | 'lander' | 'member';
  agentId: string;
  leaseId: string;
  baseBranch: string;
  /** For a lander: whether the request carries the RepoLock's current fencing token. */
  fenceValid?: boolean;
}

/** The agent namespace every agent branch must stay inside. */
export function agentNamespace(agentId: string): string {
  return `agent/${agentId}/`;
}

/** The reason a command is refused, or null when it is allowed. */
export function refusal(p: PushPrincipal, c: RefCommand): string | null {
  const create = isZeroOid(c.oldOid);
  const del = isZeroOid(c.newOid);
  if (p.kind === 'member') return 'this credential is read-only';
  if (p.kind === 'lander') {
    if (c.ref === `refs/heads/${p.baseBranch}`) {
      if (create || del) return 'the base branch is never created or deleted by a landing';
      return p.fenceValid ? null : 'stale fencing token: this lander no longer holds the repo lock';
    }
    if (c.ref.startsWith(`${QUEUE_PREFIX}/`) && del) return null;
    return 'a lander only moves the base branch and deletes queue refs';
  }
  const ns = `refs/heads/${agentNamespace(p.agentId)}`;
  if (c.ref.startsWith(ns) && c.ref.length > ns.length) return null;
  if (c.ref.startsWith(`${QUEUE_PREFIX}/${p.leaseId}-`)) {
    return create || del ? null : 'queue refs are created once, never moved';
  }
  if (c.ref === `refs/heads/${p.baseBranch}`) return `the base branch moves only through the service: push with target "base"`;
  if (c.ref.startsWith('refs/tags/')) return 'tags cannot be written through git-sandbox';
  if (c.ref.startsWith('refs/heads/')) return `outside your namespace: push to refs/heads/${agentNamespace(p.agentId)}…`;
  return 'this ref cannot be written through git-sandbox';
}

/** Refusals for a whole push: one refused command refuses them all (the push is all or nothing). */
export function decidePush(p: PushPrincipal, commands: RefCommand[]): { ref: string; reason: string }[] {
  const reasons = commands.map((c) => ({ ref: c.ref, reason: refusal(p, c) }));
  if (!reasons.some((r) => r.reason)) return [];
  return reasons.map((r) => ({ ref: r.ref, reason: r.reason ?? 'another ref in this push was refused' }));
}
