// Node module hooks that let Node import the Worker's modules outside workerd (for generating the
// OpenAPI document): `cloudflare:workers` becomes an empty stand-in and `.sh` files load as text,
// as wrangler's Text rule bundles them.
import { readFile } from 'node:fs/promises';

const STAND_IN = 'data:text/javascript,export class DurableObject {} export class WorkerEntrypoint {} export const env = {};';

/** Resolves `cloudflare:workers` to the stand-in. */
export async function resolve(specifier, context, next) {
  if (specifier === 'cloudflare:workers') return { url: STAND_IN, shortCircuit: true };
  return next(specifier, context);
}

/** Loads `.sh` files as a module whose default export is the file's text. */
export async function load(url, context, next) {
  if (url.endsWith('.sh')) return { format: 'module', source: `export default ${JSON.stringify(await readFile(new URL(url), 'utf8'))};`, shortCircuit: true };
  return next(url, context);
}
