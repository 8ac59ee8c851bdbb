// The structured logger: one object per event at its console level, base fields, redaction.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/lib/log.ts';

afterEach(() => vi.restoreAllMocks());

function spies() {
  return {
    debug: vi.spyOn(console, 'debug').mockImplementation(() => {}),
    info: vi.spyOn(console, 'info').mockImplementation(() => {}),
    warn: vi.spyOn(console, 'warn').mockImplementation(() => {}),
    error: vi.spyOn(console, 'error').mockImplementation(() => {}),
    log: vi.spyOn(console, 'log').mockImplementation(() => {}),
  };
}

describe('logger', () => {
  it('writes each event as one object with the console method of its level', () => {
    const c = spies();
    const log = createLogger('info', []);
    log.info('a', { n: 1 });
    log.warn('b');
    log.error('c');
    expect(c.info).toHaveBeenCalledTimes(1);
    expect(c.warn).toHaveBeenCalledTimes(1);
    expect(c.error).toHaveBeenCalledTimes(1);
    expect(c.log).not.toHaveBeenCalled();
    const line = c.info.mock.calls[0][0] as Record<string, unknown>;
    expect(typeof line).toBe('object');
    expect(line).toMatchObject({ level: 'info', event: 'a', n: 1 });
    expect(Date.parse(String(line.ts))).not.toBeNaN();
    expect(c.warn.mock.calls[0][0]).toMatchObject({ level: 'warn', event: 'b' });
  });

  it('drops events below its level', () => {
    const c = spies();
    const log = createLogger('warn', []);
    log.info('quiet');
    log.log('debug', 'quieter');
    expect(c.info).not.toHaveBeenCalled();
    expect(c.debug).not.toHaveBeenCalled();
  });

  it('puts the base fields (the request id) on every line, children adding their own', () => {
    const c = spies();
    const log = createLogger('info', [], { request_id: 'req_1' }).child({ lease: 'sbx_1' });
    log.info('x');
    expect(c.info.mock.calls[0][0]).toMatchObject({ request_id: 'req_1', lease: 'sbx_1', event: 'x' });
  });

  it('redacts secrets inside nested values, multi-line secrets and errors included', () => {
    const c = spies();
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    const log = createLogger('info', ['s3cr3t-token', pem]);
    log.warn('leak', { nested: { url: 'https://x:s3cr3t-token@host/repo', list: [`key: ${pem}`] }, err: new Error('bad s3cr3t-token') });
    const line = JSON.stringify(c.warn.mock.calls[0][0]);
    expect(line).not.toContain('s3cr3t-token');
    expect(line).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC');
    expect(line).toContain('[REDACTED]');
    expect(line).toContain('Error: bad [REDACTED]');
  });
});
