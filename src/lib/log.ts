// JSON-lines logger (wrangler tail friendly); every line passes through redact().
import { redact } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger that writes one JSON object per line. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Creates a logger at `level` that scrubs `secrets` from every line. */
export function createLogger(level: LogLevel, secrets: readonly string[], base: Record<string, unknown> = {}): Logger {
  const min = ORDER[level];
  const write = (lvl: LogLevel, event: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] < min) return;
    const line = redact(JSON.stringify({ ts: new Date().toISOString(), level: lvl, event, ...base, ...fields }), secrets);
    if (lvl === 'error') console.error(line);
    else console.log(line);
  };
  return {
    log: write,
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
    child: (f) => createLogger(level, secrets, { ...base, ...f }),
  };
}
