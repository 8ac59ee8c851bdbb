// The sandbox seam: the e2b SDK configured from env. E2B_API_URL/E2B_SANDBOX_URL point it at the
// local E2B-compatible host; unset, the same calls go to real E2B.
import { CommandExitError, Sandbox, SandboxNotFoundError, TimeoutError } from 'e2b';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';

/** Connection settings for the provider. */
export interface ProviderOptions {
  apiKey: string;
  apiUrl?: string;
  sandboxUrl?: string;
  template: string;
  requestTimeoutMs: number;
}

/** Result of one command in a sandbox; a non-zero exit code is a value, not an exception. */
export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options of one command run. */
export interface RunOptions {
  cwd?: string;
  envs?: Record<string, string>;
  timeoutMs?: number;
}

/** Builds provider options from the parsed config. */
export function providerOptions(cfg: Config): ProviderOptions {
  if (!cfg.E2B_API_KEY) throw new AppError('PROVIDER_ERROR', 'sandbox provider is not configured (E2B_API_KEY)');
  return {
    apiKey: cfg.E2B_API_KEY,
    apiUrl: cfg.E2B_API_URL || undefined,
    sandboxUrl: cfg.E2B_SANDBOX_URL || undefined,
    template: cfg.E2B_TEMPLATE,
    requestTimeoutMs: cfg.E2B_CREATE_TIMEOUT_MS,
  };
}

function conn(p: ProviderOptions) {
  return { apiKey: p.apiKey, apiUrl: p.apiUrl, sandboxUrl: p.sandboxUrl, requestTimeoutMs: p.requestTimeoutMs };
}

/** Creates a sandbox that lives `timeoutMs` unless extended; returns its provider id. */
export async function createSandbox(p: ProviderOptions, timeoutMs: number, metadata: Record<string, string>): Promise<string> {
  const sbx = await Sandbox.create(p.template, { ...conn(p), timeoutMs, metadata });
  return sbx.sandboxId;
}

/** Connects to a running sandbox, extending its life to at least `timeoutMs` from now. */
export async function connectSandbox(p: ProviderOptions, sandboxId: string, timeoutMs: number): Promise<Sandbox> {
  try {
    return await Sandbox.connect(sandboxId, { ...conn(p), timeoutMs });
  } catch (e) {
    if (e instanceof SandboxNotFoundError) throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox is gone', { cause: e });
    throw e;
  }
}

/** Kills a sandbox; false when it was already gone. */
export async function killSandbox(p: ProviderOptions, sandboxId: string): Promise<boolean> {
  return Sandbox.kill(sandboxId, conn(p));
}

/** Control-plane liveness (does not touch envd, so it does not keep an idle sandbox busy). */
export async function isAlive(p: ProviderOptions, sandboxId: string): Promise<boolean> {
  try {
    const info = await Sandbox.getInfo(sandboxId, conn(p));
    return info.state === 'running';
  } catch (e) {
    if (e instanceof SandboxNotFoundError) return false;
    throw e;
  }
}

/** Lists provider sandbox ids carrying the given metadata. */
export async function listSandboxIds(p: ProviderOptions, metadata: Record<string, string>): Promise<string[]> {
  const pager = Sandbox.list({ ...conn(p), query: { metadata }, limit: 100 });
  const out: string[] = [];
  for (let i = 0; pager.hasNext && i < 100; i++) {
    for (const s of await pager.nextItems()) out.push(s.sandboxId);
  }
  return out;
}

/** Runs a bash command; exit status and timeouts come back as values. */
export async function run(sbx: Sandbox, cmd: string, opts: RunOptions = {}): Promise<RunResult> {
  try {
    const r = await sbx.commands.run(cmd, { cwd: opts.cwd, envs: opts.envs, timeoutMs: opts.timeoutMs ?? 60_000 });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: false };
  } catch (e) {
    if (e instanceof CommandExitError) return { exitCode: e.exitCode, stdout: e.stdout, stderr: e.stderr, timedOut: false };
    if (e instanceof TimeoutError) return { exitCode: 124, stdout: '', stderr: String(e.message), timedOut: true };
    if (e instanceof SandboxNotFoundError) throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox is gone', { cause: e });
    throw e;
  }
}

export type { Sandbox };
