// Applies the drizzle migrations in the repo's drizzle/ folder with drizzle-orm's node-postgres migrator.
// A Postgres advisory lock makes concurrent callers (parallel test files, npm start) apply them once.
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

/** The repo's generated migrations folder. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));

const LOCK_KEY = 7_413_020_001; // arbitrary, constant: "git-sandbox migrations"

/** What applyMigrations did. */
export interface MigrationResult {
  /** Migrations recorded in drizzle.__drizzle_migrations before and after. */
  before: number;
  after: number;
}

async function countApplied(client: pg.Client): Promise<number> {
  const exists = await client.query(`SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS ok`);
  if (!exists.rows[0]?.ok) return 0;
  const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM drizzle.__drizzle_migrations');
  return Number(rows[0]?.n ?? 0);
}

/** Applies every pending migration to `databaseUrl`; safe to run repeatedly and concurrently. */
export async function applyMigrations(databaseUrl: string): Promise<MigrationResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    const before = await countApplied(client);
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
    const after = await countApplied(client);
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]);
    return { before, after };
  } finally {
    await client.end();
  }
}

/** `databaseUrl` with the password replaced, for printing. */
export function redactDatabaseUrl(databaseUrl: string): string {
  try {
    const u = new URL(databaseUrl);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable DATABASE_URL>';
  }
}
