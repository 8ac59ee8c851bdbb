// Gateway credentials: what a sandbox's git presents to the gateway. A lease credential is derived
// from the lease id with a service key (HMAC), so nothing that could authenticate is ever stored and
// the Worker can re-derive it for its own commands; it dies with the lease because the gateway
// checks the lease's state with the PoolCoordinator on every request.
import { timingSafeEqualStr } from '../lib/crypto.ts';
import { shardName, shardOfLeaseId } from '../pool/shards.ts';

const enc = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The HMAC key for gateway credentials, derived (HKDF) from the service's 32-byte key. */
function credentialKey(serviceKeyB64: string): Promise<CryptoKey> {
  let k = keys.get(serviceKeyB64);
  if (!k) {
    k = (async () => {
      if (!serviceKeyB64) throw new Error('ERROR_ENCRYPTION_KEY is not configured; lease credentials need it');
      const raw = Uint8Array.from(atob(serviceKeyB64), (c) => c.charCodeAt(0));
      const base = await crypto.subtle.importKey('raw', raw, 'HKDF', false, ['deriveKey']);
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: enc.encode('git-sandbox gateway credential v1') },
        base,
        { name: 'HMAC', hash: 'SHA-256', length: 256 },
        false,
        ['sign'],
      );
    })();
    keys.set(serviceKeyB64, k);
  }
  return k;
}

/** The gateway username of a lease or member id in a coordinator: the id, plus `~pool` outside the default pool. */
export function principalUser(id: string, pool = 'global'): string {
  return pool === 'global' ? id : `${id}~${pool}`;
}

/**
 * The gateway username of a lease: its id, plus `~<shard>` when a shard other than 0 minted it (the
 * shard is read from the id, so the credential reaches its coordinator whatever POOL_SHARDS is now).
 */
export function leasePrincipal(leaseId: string): string {
  return principalUser(leaseId, shardName(shardOfLeaseId(leaseId)));
}

/** The secret of principal `user` (a lease id, or a pool member's placeholder id, with its pool). */
export async function principalSecret(serviceKeyB64: string, user: string): Promise<string> {
  const sig = await crypto.subtle.sign('HMAC', await credentialKey(serviceKeyB64), enc.encode(`principal:${user}`));
  return `gsl_${b64url(new Uint8Array(sig))}`;
}

/** The `Authorization` header value git in a sandbox sends to the gateway. */
export async function gatewayAuthorization(serviceKeyB64: string, user: string): Promise<string> {
  return `Basic ${btoa(`${user}:${await principalSecret(serviceKeyB64, user)}`)}`;
}

/** Parses and checks a Basic header; returns the id and pool it names when the secret is right. */
export async function verifyAuthorization(serviceKeyB64: string, header: string | null | undefined): Promise<{ id: string; pool: string } | null> {
  const m = /^Basic\s+([A-Za-z0-9+/=]{1,1000})\s*$/i.exec(header ?? '');
  if (!m) return null;
  let decoded: string;
  try {
    decoded = atob(m[1]);
  } catch {
    return null;
  }
  const i = decoded.indexOf(':');
  if (i <= 0) return null;
  const user = decoded.slice(0, i);
  const m2 = /^((?:sbx|pending)_[0-9a-f]{8,64}|mbr_[A-Za-z0-9]{1,64})(?:~([A-Za-z0-9_-]{1,64}))?$/.exec(user);
  if (!m2) return null;
  const expected = await principalSecret(serviceKeyB64, user);
  return timingSafeEqualStr(decoded.slice(i + 1), expected) ? { id: m2[1], pool: m2[2] ?? 'global' } : null;
}

/** The gateway URL of a repo, which every sandbox's `origin` is set to. */
export function gatewayRepoUrl(publicUrl: string, repoKey: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/git/${repoKey}.git`;
}
