// Oracle routes for the API contract tests (workerd cannot spawn processes): lint a document the
// Worker served with Redocly CLI, and run the git-sandbox CLI against the Worker's loopback port.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lintOpenApi } from '../../scripts/redocly.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** Runs the CLI (cli/main.ts) with `args` and extra `env`; resolves to its exit code and output. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--experimental-strip-types', '--no-warnings', path.join(root, 'cli/main.ts'), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** The contract routes, keyed like the oracle's own (`METHOD /path`). */
export function contractHandlers(): Record<string, (b: Record<string, unknown>) => Promise<unknown>> {
  return {
    'POST /redocly/lint': async (b) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'lint-'));
      try {
        const file = path.join(dir, 'openapi.json');
        await writeFile(file, JSON.stringify(b.spec));
        return lintOpenApi(file);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    'POST /cli': async (b) => runCli(b.args as string[], (b.env ?? {}) as Record<string, string>),
  };
}
