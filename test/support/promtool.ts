// Runs promtool (Debian package `prometheus`; .ci/run installs it). Missing promtool fails in CI
// and skips with a clear message only on a developer machine (CI unset).
import { spawn } from 'node:child_process';

/** What one promtool run printed and how it exited. */
export interface PromtoolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The message shown when promtool is missing. */
export const PROMTOOL_MISSING = 'promtool is not installed (apt-get install prometheus; .ci/run does this in CI)';

/** Runs promtool with `args` (and `input` on stdin); null when promtool is not installed. */
export function promtool(args: string[], input?: string, cwd?: string): Promise<PromtoolRun | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve(null) : reject(e)));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/** Whether a missing promtool must fail the run (CI) rather than skip. */
export function promtoolRequired(): boolean {
  return !!process.env.CI;
}
