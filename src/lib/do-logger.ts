// The logger a Durable Object uses: config-level, secrets scrubbed, tagged with its component.
import { parseConfig, SECRET_KEYS } from '../config.ts';
import { createLogger, type Logger } from './log.ts';

/** Creates the JSON-lines logger for a component from the env's config. */
export function componentLogger(env: Env, component: string): Logger {
  const cfg = parseConfig(env);
  return createLogger(cfg.LOG_LEVEL, SECRET_KEYS.map((k) => cfg[k]).filter(Boolean), { component });
}
