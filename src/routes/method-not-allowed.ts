// Which methods a path allows, from the app's own routes, so a known path asked with another
// method answers 405 with Allow instead of 404.
import type { Hono } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';

/** A lookup of the methods whose routes match a path (HEAD wherever GET is, as Hono serves it). */
export type AllowedMethods = (path: string) => string[];

/** Builds the lookup from `app`'s routes; middleware and catch-all (`ALL`) routes are not methods. */
export function allowedMethods(app: Hono<any>): AllowedMethods {
  const router = new TrieRouter<true>();
  const methods = new Set<string>();
  for (const r of app.routes) {
    if (r.method === 'ALL') continue;
    router.add(r.method, r.path, true);
    methods.add(r.method);
  }
  if (methods.has('GET')) methods.add('HEAD');
  return (path) => [...methods].filter((m) => router.match(m === 'HEAD' ? 'GET' : m, path)[0].length > 0).sort();
}
