// Sandbox-side maintenance the pool runs: first-time setup and the scrub between leases.
import { markers } from '../git/status.ts';
import { precloneScript, setupScript } from '../git/scripts.ts';
import { scrubScript } from '../git/scrub-script.ts';
import { refreshScript } from '../git/refresh-script.ts';
import { serviceGitEnv } from '../git/env.ts';
import { attachSandbox, ENVD_REQUEST_TIMEOUT_MS, run, withDeadline, type ProviderOptions } from './provider.ts';

/** Returns a fresh sandbox's $HOME. */
export async function setupSandbox(p: ProviderOptions, sandboxId: string, timeoutMs: number): Promise<string> {
  const { sbx } = await attachSandbox(p, sandboxId, timeoutMs);
  const r = await run(sbx, setupScript(), { timeoutMs: 30_000 });
  const home = markers(r.stdout).HOME;
  if (r.exitCode !== 0 || !home) throw new Error(`sandbox setup failed (exit ${r.exitCode})`);
  return home;
}

/** A HOME no file can exist under, so a login shell finds no profile of the tenant's to source. */
const NO_HOME = '/proc/self/gs-no-home';

/**
 * Scrubs a returned sandbox back to "as cloned" (see scrubScript): every process of the lease
 * killed, $HOME/$TMPDIR/tmp emptied, the clone rebuilt at origin/<base>. True only when the
 * script verified all of it; false means the member must be destroyed.
 */
export async function scrubSandbox(p: ProviderOptions, sandboxId: string, timeoutMs: number, clone: { tip: string | null; url: string; authorization: string } | null = null): Promise<{ clean: boolean; base: string | null }> {
  // A failed call through a cached handle fails the scrub, and the member is replaced, as after a failed connect.
  const { sbx } = await attachSandbox(p, sandboxId, timeoutMs);
  const procs = await withDeadline(ENVD_REQUEST_TIMEOUT_MS, (o) => sbx.commands.list(o));
  await Promise.all(procs.map((pr) => withDeadline(ENVD_REQUEST_TIMEOUT_MS, (o) => sbx.commands.kill(pr.pid, o)).catch(() => false)));
  // The home comes from envd's file service, not from a shell the tenant's dotfiles could steer.
  const home = (await withDeadline(ENVD_REQUEST_TIMEOUT_MS, (o) => sbx.files.getInfo('~', o))).path;
  if (!home.startsWith('/')) return { clean: false, base: null };
  const r = await run(sbx, scrubScript(), { timeoutMs: 120_000, envs: { GS_HOME: home, HOME: NO_HOME, GS_TIP: clone?.tip ?? '', GS_URL: clone?.url ?? '', GS_AUTH: clone?.authorization ?? '' } });
  const m = markers(r.stdout);
  return { clean: r.exitCode === 0 && m.CLEAN === '1', base: m.BASE || null };
}

/**
 * Fetches origin/<base> of an idle member's clone through the gateway (a read-only member
 * credential) and returns the commit it is at; throws when the fetch failed.
 */
export async function refreshClone(p: ProviderOptions, sandboxId: string, timeoutMs: number, branch: string, authorization: string): Promise<string> {
  const { sbx } = await attachSandbox(p, sandboxId, timeoutMs);
  const r = await run(sbx, refreshScript(), { timeoutMs: 120_000, envs: { GS_BRANCH: branch, ...serviceGitEnv({ authorization }) } });
  const base = markers(r.stdout).BASE;
  if (r.exitCode !== 0 || !base) throw new Error(`refresh failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 300)}`);
  return base;
}

/** Clones a repo into a fresh pool member so its first lease of that repo is an affinity hit. */
export async function precloneSandbox(
  p: ProviderOptions,
  sandboxId: string,
  timeoutMs: number,
  repo: { gatewayUrl: string; branch: string },
  authorization: string,
): Promise<boolean> {
  const { sbx } = await attachSandbox(p, sandboxId, timeoutMs);
  // A read-only member credential, live only while the member is being created.
  const r = await run(sbx, precloneScript(), {
    timeoutMs: 120_000,
    envs: { GS_URL: repo.gatewayUrl, GS_BRANCH: repo.branch, ...serviceGitEnv({ authorization }) },
  });
  return r.exitCode === 0 && markers(r.stdout).OK === '1';
}
