import { describe, expect, it } from 'vitest';
import { redact } from '../../src/lib/redact.ts';

const secret = 'gsk_Zq9/+Tr0ub!e$ecret-7';
const enc = new TextEncoder();

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/** True when any base64 run of `out`, decoded at any start, still holds the secret. */
function base64Leaks(out: string): boolean {
  for (const run of out.match(/[A-Za-z0-9+/_=-]{4,}/g) ?? []) {
    const std = run.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    for (let i = 0; i < 4; i++) {
      const piece = std.slice(i);
      const decoded = Buffer.from(piece.slice(0, piece.length - (piece.length % 4)), 'base64').toString('latin1');
      if (decoded.includes(secret)) return true;
    }
  }
  return false;
}

/** True when any hex run of `out` (at either nibble) still holds the secret. */
function hexLeaks(out: string): boolean {
  for (const run of out.match(/[0-9a-fA-F]{8,}/g) ?? []) {
    for (const start of [0, 1]) {
      const piece = run.slice(start);
      if (Buffer.from(piece.slice(0, piece.length - (piece.length % 2)), 'hex').toString('latin1').includes(secret)) return true;
    }
  }
  return false;
}

describe('redact: encoded forms of a known secret', () => {
  it('removes the secret as it is, reversed and JSON-escaped', () => {
    const out = redact(`a ${secret} b ${[...secret].reverse().join('')} c ${JSON.stringify({ k: secret })}`, [secret]);
    expect(out).not.toContain(secret);
    expect(out).not.toContain([...secret].reverse().join(''));
    expect(out.match(/\[REDACTED\]/g)).toHaveLength(3);
  });

  it.each(['', 'x', 'xy', 'xyz', 'user:', 'Authorization: Basic '])('removes standard and url-safe base64 of the secret after %j (every byte alignment)', (prefix) => {
    for (const suffix of ['', '!', 'tail of the text']) {
      const plain = `${prefix}${secret}${suffix}`;
      for (const encoded of [b64(plain), b64url(plain), b64(plain).replace(/=+$/, '')]) {
        const out = redact(`value: ${encoded} end`, [secret]);
        expect(base64Leaks(out), `${prefix}|${suffix}: ${out}`).toBe(false);
        expect(out).toContain('[REDACTED]');
      }
    }
  });

  it('removes lower- and upper-case hex of the secret, also inside longer hex', () => {
    const h = Buffer.from(enc.encode(`pre${secret}post`)).toString('hex');
    for (const text of [h, h.toUpperCase(), Buffer.from(secret).toString('hex')]) {
      const out = redact(`dump ${text}`, [secret]);
      expect(hexLeaks(out), out).toBe(false);
    }
  });

  it('removes URL-encoded forms (upper and lower case escapes, + for space, every byte escaped)', () => {
    const spaced = 'my secret/value+1';
    const forms = [
      encodeURIComponent(spaced),
      encodeURIComponent(spaced).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
      encodeURIComponent(spaced).replace(/%20/g, '+'),
      Array.from(enc.encode(spaced), (b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
    ];
    for (const f of forms) {
      const out = redact(`GET /x?token=${f}&y=1`, [spaced]);
      expect(out, f).toBe('GET /x?token=[REDACTED]&y=1');
    }
  });

  it('removes each line of a multi-line secret such as a PEM key', () => {
    const pem = `-----BEGIN PRIVATE KEY-----\n${'A1b2C3d4'.repeat(8)}\n${'Z9y8X7w6'.repeat(8)}\n-----END PRIVATE KEY-----`;
    const out = redact(`oops: ${'Z9y8X7w6'.repeat(8)}`, [pem]);
    expect(out).toBe('oops: [REDACTED]');
  });

  it('leaves ordinary text alone and ignores secrets too short to redact safely', () => {
    expect(redact('nothing to see here', [secret, 'abc', undefined, ''])).toBe('nothing to see here');
  });
});
