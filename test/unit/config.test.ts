import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';

describe('parseConfig', () => {
  it('applies the default of a numeric var set to the empty string', () => {
    const c = parseConfig({ POOL_MIN: '', CREATE_PER_SEC: '', LOCK_TTL_S: '7' });
    expect([c.POOL_MIN, c.CREATE_PER_SEC, c.LOCK_TTL_S]).toEqual([3, 5, 7]);
  });

  it('keeps the empty string of a string var', () => {
    expect(parseConfig({ GITHUB_API_URL: '' }).GITHUB_API_URL).toBe('');
  });

  it('names the var and the reason of an invalid value', () => {
    expect(() => parseConfig({ POOL_MIN: 'x' })).toThrow(/^invalid configuration: POOL_MIN: /);
    expect(() => parseConfig({ LOG_LEVEL: '' })).toThrow(/LOG_LEVEL/);
  });
});
