// Structured logger for `wrangler tail` and Workers Logs: one object per event, written with the
// console method of its level (so the platform records the level), every string value redacted.
import { redact } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const CONSOLE: Record<LogLevel, (o: unknown) => void> = {
  debug: (o) => console.debug(o),
  info: (o) => console.info(o),
  warn: (o) => console.warn(o),
  error: (o) => console.error(o),
};

/** A logger that writes one structured object per event. */
export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** Redacts every string inside `v` (objects and arrays walked, errors and other objects stringified). */
export function redactValue(v: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof v === 'string') return redact(v, secrets);
  if (v === null || typeof v === 'number' || typeof v === 'boolean' || v === undefined) return v;
  if (depth > 5) return '[…]';
  if (Array.isArray(v)) return v.map((x) => redactValue(x, secrets, depth + 1));
  if (Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, redactValue(x, secrets, depth + 1)]));
  }
  return redact(v instanceof Error ? `${v.name}: ${v.message}` : String(v), secrets);
}

/** Creates a logger at `level` that scrubs `secrets` from every line; `base` fields go on every line. */
export function createLogger(level: LogLevel, secrets: readonly string[], base: Record<string, unknown> = {}): Logger {
  const min = ORDER[level];
  const write = (lvl: LogLevel, event: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[lvl] < min) return;
    CONSOLE[lvl](redactValue({ ts: new Date().toISOString(), level: lvl, event, ...base, ...fields }, secrets));
  };
  return {
    log: write,
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
    child: (f) => createLogger(level, secrets, { ...base, ...f }),
  };
}
