// Runs the pinned Redocly CLI (@redocly/cli) with this Node and the repository's redocly.yaml,
// without telemetry or update checks: `build-docs` for the docs page, `lint` for the contract.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(path.dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin/cli.js');

/** What one Redocly run printed and how it exited. */
export interface RedoclyRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `redocly <args>` from the repository root. */
export function runRedocly(args: string[]): RedoclyRun {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
  });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** One lint finding. */
export interface LintProblem {
  ruleId: string;
  severity: string;
  message: string;
  pointer: string;
}

/** A lint's counts, its findings and the human-readable report. */
export interface LintResult {
  errors: number;
  warnings: number;
  problems: LintProblem[];
  output: string;
}

/** Lints the OpenAPI document at `file` with redocly.yaml. */
export function lintOpenApi(file: string): LintResult {
  const config = ['--config', path.join(root, 'redocly.yaml')];
  const raw = runRedocly(['lint', file, ...config, '--format', 'json']);
  const parsed = JSON.parse(raw.stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; severity: string; message: string; location?: { pointer?: string }[] }[] };
  // The readable report costs a second run, so only a failing lint gets one.
  const problems = parsed.totals.errors + parsed.totals.warnings > 0;
  const report = problems ? runRedocly(['lint', file, ...config, '--format', 'stylish']) : { stdout: `${path.basename(file)}: no problems (redocly.yaml)\n`, stderr: '' };
  return {
    errors: parsed.totals.errors,
    warnings: parsed.totals.warnings,
    problems: parsed.problems.map((p) => ({ ruleId: p.ruleId, severity: p.severity, message: p.message, pointer: p.location?.[0]?.pointer ?? '' })),
    output: `${report.stdout}${report.stderr}`,
  };
}
