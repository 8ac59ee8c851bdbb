// Hashing, constant-time comparison, random ids and AES-GCM for stored error text.

const enc = new TextEncoder();

/** Hex SHA-256 of a string. */
export async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', enc.encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Compares two strings in time independent of where they differ. */
export function timingSafeEqualStr(a: string, b: string): boolean {
  const ab = enc.encode(a);
  const bb = enc.encode(b);
  let diff = ab.length ^ bb.length;
  const n = Math.max(ab.length, bb.length);
  for (let i = 0; i < n; i++) diff |= (ab[i % Math.max(ab.length, 1)] ?? 0) ^ (bb[i % Math.max(bb.length, 1)] ?? 0);
  return diff === 0 && ab.length === bb.length;
}

/** A random url-safe id with a prefix, e.g. `sbx_…`. */
export function randomId(prefix: string, bytes = 12): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return `${prefix}_${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** A random secret (base64url, 32 bytes). */
export function randomSecret(prefix = 'gsk'): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return `${prefix}_${btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

async function importKey(keyB64: string): Promise<CryptoKey> {
  const raw = Uint8Array.from(atob(keyB64), (c) => c.charCodeAt(0));
  if (raw.length !== 32) throw new Error('ERROR_ENCRYPTION_KEY must be 32 bytes, base64');
  return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** AES-256-GCM encrypts text to base64(iv|ciphertext). Returns null when no key is configured. */
export async function encryptText(keyB64: string, text: string): Promise<string | null> {
  if (!keyB64) return null;
  const key = await importKey(keyB64);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, enc.encode(text)));
  const all = new Uint8Array(iv.length + ct.length);
  all.set(iv);
  all.set(ct, iv.length);
  return btoa(String.fromCharCode(...all));
}

/** Decrypts what encryptText produced. */
export async function decryptText(keyB64: string, b64: string): Promise<string> {
  const key = await importKey(keyB64);
  const all = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: all.slice(0, 12) }, key, all.slice(12));
  return new TextDecoder().decode(pt);
}

/** FNV-1a 32-bit hash of a string's UTF-16 code units (stable across runtimes and deployments). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Stable 0–99 bucket of a string (FNV-1a), used for the rollout percentage. */
export function bucketOf(s: string): number {
  return fnv1a(s) % 100;
}
