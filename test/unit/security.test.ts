import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { AppError, ERROR_STATUS } from '../../src/errors.ts';
import { decryptText, encryptText, sha256Hex, timingSafeEqualStr } from '../../src/lib/crypto.ts';
import { redact } from '../../src/lib/redact.ts';
import { q } from '../../src/git/shell.ts';
import { serviceGitEnv } from '../../src/git/env.ts';

describe('redact', () => {
  it('removes configured secrets, URL credentials, auth headers and token shapes', () => {
    const t = 'tok_12345';
    const s = redact(`fatal: https://x-access-token:${t}@github.com/a/b failed; Authorization: Bearer abc.def ghp_${'a'.repeat(36)} and ${t}`, [t]);
    expect(s).not.toContain(t);
    expect(s).not.toContain('abc.def');
    expect(s).not.toContain('ghp_');
    expect(s).toContain('[REDACTED]');
  });
});

describe('crypto', () => {
  it('round-trips AES-GCM and never stores the plaintext', async () => {
    const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
    const c = await encryptText(key, 'secret error');
    expect(c).not.toContain('secret');
    expect(await decryptText(key, c!)).toBe('secret error');
    expect(await encryptText('', 'x')).toBeNull();
  });
  it('hashes keys and compares strings of any length safely', async () => {
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(timingSafeEqualStr('abc', 'abc')).toBe(true);
    expect(timingSafeEqualStr('abc', 'abd')).toBe(false);
    expect(timingSafeEqualStr('abc', 'abcd')).toBe(false);
    expect(timingSafeEqualStr('', 'a')).toBe(false);
  });
});

describe('shell and git env', () => {
  it('single-quotes anything for bash', () => {
    expect(q(`it's $(rm -rf /)`)).toBe(`'it'\\''s $(rm -rf /)'`);
  });
  it('runs service git with hooks, fsmonitor, global config and non-http transports off', () => {
    const e = serviceGitEnv({ authorization: 'Basic abc', fence: 7 });
    const cfg = Array.from({ length: Number(e.GIT_CONFIG_COUNT) }, (_, i) => [e[`GIT_CONFIG_KEY_${i}`], e[`GIT_CONFIG_VALUE_${i}`]]);
    expect(cfg).toContainEqual(['core.hooksPath', '/dev/null']);
    expect(cfg).toContainEqual(['core.fsmonitor', 'false']);
    expect(cfg).toContainEqual(['protocol.allow', 'never']);
    expect(cfg).toContainEqual(['credential.helper', '']);
    expect(e).toMatchObject({ GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0' });
    // The sandbox's own extra headers are reset before the lease's credential and the fence are added.
    const headers = cfg.filter(([k]) => k === 'http.extraHeader').map(([, v]) => v);
    expect(headers).toEqual(['', 'Authorization: Basic abc', 'X-Git-Sandbox-Fence: 7']);
  });
});

describe('config and errors', () => {
  it('applies documented defaults and rejects invalid values with the var name', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({ POOL_MIN: 3, POOL_MAX: 10, SANDBOX_TTL_S: 3600, LOCK_TTL_S: 30, LOCK_WAIT_MS: 5000, PUSH_MAX_RETRIES: 3, POOLED_PERCENT: 100, REUSE_POLICY: 'reuse' });
    expect(parseConfig({ POOL_MIN: '' }).POOL_MIN).toBe(3);
    expect(() => parseConfig({ POOLED_PERCENT: '150' })).toThrow(/POOLED_PERCENT/);
    expect(() => parseConfig({ REUSE_POLICY: 'sometimes' })).toThrow(/REUSE_POLICY/);
  });
  it('gives every error code a status and a stable body', () => {
    const e = new AppError('MERGE_CONFLICT', 'x', { details: { conflicts: ['a'] } });
    expect(e.status).toBe(409);
    expect(e.toBody()).toEqual({ error: { code: 'MERGE_CONFLICT', message: 'x', conflicts: ['a'] } });
    for (const [code, status] of Object.entries(ERROR_STATUS)) expect(status, code).toBeGreaterThanOrEqual(400);
  });
});
