// MemberScrubber: runs a returned pool member's scrub (the upstream tip read, the gateway credential
// and the sandbox calls) outside the PoolCoordinator, whose one thread then spends its time on
// grants. Stateless (a pool has a few, named by pool and bucket): the coordinator keeps the member
// 'scrubbing' and applies the outcome itself.
import { DurableObject } from 'cloudflare:workers';
import { parseConfig } from '../config.ts';
import { gatewayAuthorization, gatewayRepoUrl, principalUser } from '../gateway/credentials.ts';
import { upstreamTip } from '../gateway/upstream-refs.ts';
import { providerOptions, type ProviderOptions } from '../sandbox/provider.ts';
import { scrubSandbox } from '../sandbox/maintenance.ts';

/** What to scrub: the member, its provider timeout, its pool (for the member credential) and its clone. */
export interface ScrubJob {
  sandboxId: string;
  timeoutMs: number;
  pool: string;
  repo: { key: string; url: string; branch: string } | null;
}

/** The scrub's result; `tip` is the upstream tip it read (null when there was no clone or the read failed). */
export interface ScrubOutcome {
  clean: boolean;
  base: string | null;
  tip: { sha: string | null; at: number } | null;
  error: string | null;
}

/** Scrubs one member at the coordinator's request and answers with the outcome (no storage). */
export class MemberScrubber extends DurableObject<Env> {
  #p: ProviderOptions | null = null;

  /** Scrubs a member; the clone is rebuilt at the upstream tip read here, or dropped without one. */
  async scrub(job: ScrubJob): Promise<ScrubOutcome> {
    const cfg = parseConfig(this.env);
    // The clone is rebuilt at the tip as read from the upstream by this trusted code, never at
    // whatever the last tenant left in its origin/<base>; without a known tip the clone is dropped.
    const sha = job.repo ? await upstreamTip(cfg, job.repo.url, job.repo.branch).catch(() => undefined) : undefined;
    const tip = sha === undefined ? null : { sha, at: Date.now() };
    const clone = tip?.sha && job.repo
      ? { tip: tip.sha, url: gatewayRepoUrl(cfg.PUBLIC_URL, job.repo.key), authorization: await gatewayAuthorization(cfg.ERROR_ENCRYPTION_KEY, principalUser(`mbr_${job.sandboxId}`, job.pool)) }
      : null;
    try {
      this.#p ??= providerOptions(cfg);
      const r = await scrubSandbox(this.#p, job.sandboxId, job.timeoutMs, clone);
      return { ...r, tip, error: r.clean ? null : 'unhealthy after the scrub' };
    } catch (e) {
      return { clean: false, base: null, tip, error: String(e) };
    }
  }
}
