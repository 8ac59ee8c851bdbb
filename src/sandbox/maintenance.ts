// Sandbox-side maintenance the pool runs: first-time setup and the scrub between leases.
import { markers } from '../git/status.ts';
import { precloneScript, setupScript } from '../git/scripts.ts';
import { scrubScript } from '../git/scrub-script.ts';
import { serviceGitEnv } from '../git/env.ts';
import { connectSandbox, run, type ProviderOptions } from './provider.ts';

/** Returns a fresh sandbox's $HOME. */
export async function setupSandbox(p: ProviderOptions, sandboxId: string, timeoutMs: number): Promise<string> {
  const sbx = await connectSandbox(p, sandboxId, timeoutMs);
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
export async function scrubSandbox(p: ProviderOptions, sandboxId: string, timeoutMs: number): Promise<boolean> {
  const sbx = await connectSandbox(p, sandboxId, timeoutMs);
  const procs = await sbx.commands.list();
  await Promise.all(procs.map((pr) => sbx.commands.kill(pr.pid).catch(() => false)));
  // The home comes from envd's file service, not from a shell the tenant's dotfiles could steer.
  const home = (await sbx.files.getInfo('~')).path;
  if (!home.startsWith('/')) return false;
  const r = await run(sbx, scrubScript(), { timeoutMs: 120_000, envs: { GS_HOME: home, HOME: NO_HOME } });
  return r.exitCode === 0 && markers(r.stdout).CLEAN === '1';
}

/** Clones a repo into a fresh pool member so its first lease of that repo is an affinity hit. */
export async function precloneSandbox(
  p: ProviderOptions,
  sandboxId: string,
  timeoutMs: number,
  repo: { gatewayUrl: string; branch: string },
  authorization: string,
): Promise<boolean> {
  const sbx = await connectSandbox(p, sandboxId, timeoutMs);
  // A read-only member credential, live only while the member is being created.
  const r = await run(sbx, precloneScript(), {
    timeoutMs: 120_000,
    envs: { GS_URL: repo.gatewayUrl, GS_BRANCH: repo.branch, ...serviceGitEnv({ authorization }) },
  });
  return r.exitCode === 0 && markers(r.stdout).OK === '1';
}
