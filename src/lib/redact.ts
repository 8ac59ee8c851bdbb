// Removes secrets from any text before it is logged, returned or stored: each known secret as it is
// and in the forms a sandbox or a library may turn it into (base64 at any byte alignment, hex,
// URL-encoding, reversed, JSON-escaped), plus credential-shaped substrings.

const CRED_IN_URL = /(\b[a-z][a-z0-9+.-]*:\/\/)([^\s/@:]+)(:[^\s/@]*)?@/gi;
const AUTH_HEADER = /(authorization:\s*(?:basic|bearer|token)\s+)[^\s'"]+/gi;
const KNOWN_TOKEN = /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|e2b_[A-Za-z0-9]{16,}|sk_[A-Za-z0-9]{16,})\b/g;

/** Secrets shorter than this are not redacted (they would match ordinary text). */
const MIN_SECRET = 4;
/** Encoded fragments shorter than this are not redacted, for the same reason. */
const MIN_FORM = 6;
/** Each line of a multi-line secret (a PEM key) at least this long is a secret of its own. */
const MIN_LINE = 16;
const MAX_CACHED = 256;

const cache = new Map<string, string[]>();

function base64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

const urlSafe = (b64: string) => b64.replace(/\+/g, '-').replace(/\//g, '_');
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * The base64 characters that depend only on the secret when it sits at byte offset `align` (mod 3)
 * of a longer text: whatever comes before or after it, its base64 contains this run.
 */
function base64Core(bytes: Uint8Array, align: number): string {
  const padded = new Uint8Array(align + bytes.length);
  padded.set(bytes, align);
  return base64(padded).slice(Math.ceil((8 * align) / 6), Math.floor((8 * (align + bytes.length)) / 6));
}

/** Every form of `secret` that redact() removes, longest first. */
export function secretForms(secret: string): string[] {
  const hit = cache.get(secret);
  if (hit) return hit;
  const forms = new Set<string>();
  const add = (f: string, min = MIN_FORM) => {
    if (f.length >= min) forms.add(f);
  };
  add(secret, MIN_SECRET);
  const bytes = new TextEncoder().encode(secret);
  const full = base64(bytes);
  for (const b of [full, full.replace(/=+$/, '')]) {
    add(b);
    add(urlSafe(b));
  }
  for (const align of [0, 1, 2]) {
    const core = base64Core(bytes, align);
    add(core);
    add(urlSafe(core));
  }
  const h = hex(bytes);
  add(h);
  add(h.toUpperCase());
  const uri = encodeURIComponent(secret);
  if (uri !== secret) {
    add(uri);
    add(uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
    add(uri.replace(/%20/g, '+'));
  }
  const pct = h.replace(/(..)/g, '%$1');
  add(pct);
  add(pct.toUpperCase());
  add([...secret].reverse().join(''), MIN_SECRET);
  add(JSON.stringify(secret).slice(1, -1), MIN_SECRET);
  if (secret.includes('\n')) {
    for (const line of secret.split(/\r?\n/)) if (line.trim().length >= MIN_LINE) add(line.trim());
  }
  const out = [...forms].sort((a, b) => b.length - a.length);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(secret, out);
  return out;
}

/** Returns `text` with the given secret values (in every form of secretForms) and credential-shaped substrings replaced. */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < MIN_SECRET) continue;
    for (const f of secretForms(s)) if (out.includes(f)) out = out.split(f).join('[REDACTED]');
  }
  return out
    .replace(CRED_IN_URL, (_m, scheme: string) => `${scheme}[REDACTED]@`)
    .replace(AUTH_HEADER, (_m, head: string) => `${head}[REDACTED]`)
    .replace(KNOWN_TOKEN, '[REDACTED]');
}
