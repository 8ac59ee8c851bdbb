// `npm run db:migrate`: applies the drizzle/ migrations to $DATABASE_URL and says what it did.
import { applyMigrations, redactDatabaseUrl } from '../local/migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set. Example: DATABASE_URL=postgres://user:pass@host:5432/db npm run db:migrate');
  process.exit(2);
}
try {
  const { before, after } = await applyMigrations(url);
  const target = redactDatabaseUrl(url);
  const applied = after - before;
  console.log(applied > 0
    ? `applied ${applied} migration(s) to ${target} (${after} total)`
    : `${target} is up to date (${after} migration(s) applied earlier)`);
} catch (err) {
  // Driver errors can quote the connection string; strip the password before printing.
  const pass = (() => { try { return decodeURIComponent(new URL(url).password); } catch { return ''; } })();
  let msg = err instanceof Error ? err.message : String(err);
  if (pass) msg = msg.split(pass).join('***');
  console.error(`migration failed: ${msg}`);
  process.exit(1);
}
