// Parses the Worker's env once with zod: every var's default is written here and in wrangler.toml.
import { z } from 'zod';

/** The schemas of numeric vars (built by int and num): for these an empty string means unset. */
const numeric = new Set<z.ZodType>();
const flagNumeric = <T extends z.ZodType>(schema: T): T => (numeric.add(schema), schema);
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  flagNumeric(z.coerce.number().int().min(min).max(max).default(def));
const num = (def: number) => flagNumeric(z.coerce.number().positive().default(def));
const str = (def = '') => z.string().default(def);

/** Durable Object location hints (where a coordinator is created when it does not exist yet). */
export const LOCATION_HINTS = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me'] as const;

/** Schema of the parsed configuration; the type shares its name. */
export const Config = z.object({
  POOL_SHARDS: int(1, 1, 64),
  POOL_LOCATION_HINTS: z
    .string()
    .default('')
    .refine((v) => v.split(',').map((x) => x.trim()).filter(Boolean).every((x) => (LOCATION_HINTS as readonly string[]).includes(x)), {
      message: `expected a comma-separated list of Durable Object location hints (${'wnam, enam, sam, weur, eeur, apac, oc, afr, me'})`,
    }),
  POOL_MIN: int(3, 0, 1000),
  POOL_MAX: int(10, 0, 1000),
  MAX_SANDBOXES: int(20, 1, 10000),
  CREATE_PER_SEC: num(5),
  LEASE_WAIT_MS: int(10_000, 0, 600_000),
  MAX_WAITERS: int(200, 0, 100_000),
  SANDBOX_TTL_S: int(3600, 10, 86_400),
  IDLE_MAX_AGE_S: int(1800, 10, 86_400),
  REUSE_POLICY: z.enum(['reuse', 'discard']).default('reuse'),
  POOLED_PERCENT: int(100, 0, 100),
  MAX_LEASES_PER_AGENT: int(10, 1, 10_000),
  ALLOWED_REPOS: str(''),
  PREWARM_REPOS: str(''),
  GIT_USERNAME: str('x-access-token'),
  PUBLIC_URL: str(''),
  GITHUB_APP_ID: str(''),
  GITHUB_API_URL: str('https://api.github.com'),
  LANDER_IDLE_S: int(600, 30, 86_400),
  MAX_STALENESS_S: int(30, 1, 86_400),
  AUTH_FAIL_LIMIT: int(20, 1, 100_000),
  AUTH_FAIL_WINDOW_S: int(60, 1, 3600),
  LOCK_TTL_S: int(30, 1, 3600),
  LOCK_WAIT_MS: int(5000, 0, 600_000),
  PUSH_MAX_RETRIES: int(3, 0, 20),
  RETENTION_DAYS: int(30, 1, 3650),
  EXEC_TIMEOUT_MS: int(60_000, 100, 3_600_000),
  MAX_OUTPUT_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  MAX_BODY_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  E2B_TEMPLATE: str('base'),
  E2B_API_URL: str(''),
  E2B_SANDBOX_URL: str(''),
  E2B_CREATE_TIMEOUT_MS: int(60_000, 1000, 600_000),
  NEON_WS_PROXY: str(''),
  CONFLICT_WEBHOOK_URL: str(''),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  DATABASE_URL: str(''),
  E2B_API_KEY: str(''),
  GIT_TOKEN: str(''),
  GITHUB_APP_PRIVATE_KEY: str(''),
  ADMIN_TOKEN: str(''),
  METRICS_TOKEN: str(''),
  ERROR_ENCRYPTION_KEY: str(''),
});
export type Config = z.infer<typeof Config>;

const cache = new WeakMap<object, Config>();

/** Parses (once per env object) and returns the typed configuration; throws on invalid values. */
export function parseConfig(env: Partial<Record<keyof Config, unknown>>): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(Config.shape) as (keyof Config)[]) {
    const v = (env as Record<string, unknown>)[key];
    // An empty string means "unset" for numeric vars, so the default applies.
    if (v !== undefined && !(v === '' && numeric.has(Config.shape[key]))) picked[key] = v;
  }
  const parsed = Config.safeParse(picked);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${detail}`);
  }
  cache.set(env, parsed.data);
  return parsed.data;
}

/** The secrets among the config keys; their values are scrubbed from every log line and error. */
export const SECRET_KEYS = ['DATABASE_URL', 'E2B_API_KEY', 'GIT_TOKEN', 'GITHUB_APP_PRIVATE_KEY', 'ADMIN_TOKEN', 'METRICS_TOKEN', 'ERROR_ENCRYPTION_KEY'] as const;
