// Lints an OpenAPI document with Redocly CLI and redocly.yaml (the recommended ruleset): the
// committed client/openapi.json by default, or the file given. Exits non-zero on any problem.
import path from 'node:path';
import { lintOpenApi } from './redocly.ts';

const file = path.resolve(process.argv[2] ?? 'client/openapi.json');
const r = lintOpenApi(file);
process.stdout.write(r.output);
process.exitCode = r.errors + r.warnings > 0 ? 1 : 0;
