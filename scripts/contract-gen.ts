// Generates the API contract's artefacts from the Worker's routes: client/openapi.json (the
// document, its server relative), client/api-types.ts (openapi-typescript) and public/docs.html
// (Redoc, built by `redocly build-docs` with its bundle inlined). With --check it builds them in a
// temporary directory and fails when a committed one differs (run by `npm test`).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { escapeDescriptions } from './docs-markdown.ts';
import { runRedocly } from './redocly.ts';

const root = path.resolve(import.meta.dirname, '..');
const ARTEFACTS = { spec: 'client/openapi.json', types: 'client/api-types.ts', docs: 'public/docs.html' } as const;

/** Builds every artefact into `dir` (same relative paths as in the repository). */
async function build(dir: string): Promise<void> {
  register(new URL('./worker-hooks.mjs', import.meta.url));
  // Imported by URL, so the Node type-check does not follow them into the Worker's own types.
  const { createApp } = (await import(new URL('../src/routes/app.ts', import.meta.url).href)) as { createApp(): unknown };
  const { openApiDocument } = (await import(new URL('../src/routes/openapi.ts', import.meta.url).href)) as { openApiDocument(app: unknown, serverUrl: string): object };
  const doc = openApiDocument(createApp(), '/');
  const spec = `${JSON.stringify(doc, null, 2)}\n`;
  const out = (p: string) => path.join(dir, p);
  for (const d of ['client', 'public']) mkdirSync(out(d), { recursive: true });
  writeFileSync(out(ARTEFACTS.spec), spec);
  // A field with a default may be left out of a request, so defaults do not make fields required.
  const ast = await openapiTS(JSON.parse(spec), { alphabetize: true, defaultNonNullable: false });
  writeFileSync(out(ARTEFACTS.types), astToString(ast));
  const docsSpec = out('docs-openapi.json');
  writeFileSync(docsSpec, JSON.stringify(escapeDescriptions(doc)));
  const r = runRedocly(['build-docs', docsSpec, '--inlineBundle', '--title', 'git-sandbox API', '-o', out(ARTEFACTS.docs)]);
  if (r.code !== 0) throw new Error(`redocly build-docs failed:\n${r.stdout}${r.stderr}`);
  rmSync(docsSpec);
}

const check = process.argv.includes('--check');
if (!check) {
  await build(root);
  console.log(`wrote ${Object.values(ARTEFACTS).join(', ')}`);
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'contract-'));
  try {
    await build(dir);
    const stale = Object.values(ARTEFACTS).filter((p) => {
      try {
        return readFileSync(path.join(dir, p), 'utf8') !== readFileSync(path.join(root, p), 'utf8');
      } catch {
        return true;
      }
    });
    if (stale.length) {
      console.error(`${stale.join(', ')} ${stale.length > 1 ? 'are' : 'is'} stale: run \`npm run client:gen\` and commit the result.`);
      process.exit(1);
    }
    console.log(`${Object.values(ARTEFACTS).join(', ')} are up to date`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
