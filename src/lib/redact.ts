// Removes secrets from any text before it is logged, returned or stored.

const CRED_IN_URL = /(\b[a-z][a-z0-9+.-]*:\/\/)([^\s/@:]+)(:[^\s/@]*)?@/gi;
const AUTH_HEADER = /(authorization:\s*(?:basic|bearer|token)\s+)[^\s'"]+/gi;
const KNOWN_TOKEN = /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|e2b_[A-Za-z0-9]{16,}|sk_[A-Za-z0-9]{16,})\b/g;

/** Returns `text` with the given secret values and credential-shaped substrings replaced. */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  }
  return out
    .replace(CRED_IN_URL, (_m, scheme: string) => `${scheme}[REDACTED]@`)
    .replace(AUTH_HEADER, (_m, head: string) => `${head}[REDACTED]`)
    .replace(KNOWN_TOKEN, '[REDACTED]');
}
