#!/usr/bin/env -S node --experimental-strip-types --no-warnings
// git-sandbox CLI entry: reads GIT_SANDBOX_URL and GIT_SANDBOX_KEY, parses argv, runs the command
// with the typed client. Exit codes: the command's own for exec, 1 for an API or network error,
// 2 for a usage error.
import { readFileSync } from 'node:fs';
import { createClient, GitSandboxError } from '../client/index.ts';
import { parseCommand, USAGE, UsageError } from './args.ts';
import { runCommand } from './commands.ts';

const out = {
  stdout: (t: string) => void process.stdout.write(t),
  stderr: (t: string) => void process.stderr.write(t),
  bytes: (b: Uint8Array, stream: 'stdout' | 'stderr') => void process[stream].write(b),
};

/** Runs the CLI with `argv`; resolves to the exit code. */
async function main(argv: string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseCommand(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    out.stderr(`git-sandbox: ${e.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (cmd.name === 'help') return (out.stdout(`${USAGE}\n`), 0);
  if (cmd.name === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    return (out.stdout(`${pkg.version}\n`), 0);
  }
  const baseUrl = process.env.GIT_SANDBOX_URL;
  const apiKey = process.env.GIT_SANDBOX_KEY;
  if (!baseUrl || !apiKey) {
    out.stderr(`git-sandbox: set GIT_SANDBOX_URL (the service's URL) and GIT_SANDBOX_KEY (your API key)\n`);
    return 2;
  }
  try {
    return await runCommand(createClient({ baseUrl, apiKey }), cmd, out);
  } catch (e) {
    if (e instanceof GitSandboxError) out.stderr(`git-sandbox: ${e.message}\n`);
    else out.stderr(`git-sandbox: cannot reach ${baseUrl}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
