// Upstream credentials for the gateway (GIT_TOKEN only; the GitHub App path is being added).
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import type { RepoUrl } from '../git/validate.ts';

/** Where the gateway gets the upstream Authorization header. */
export interface UpstreamAuth {
  authorization(repo: RepoUrl): Promise<string>;
  invalidate(repo: RepoUrl): void;
  readonly kind: 'token' | 'app';
}

/** The upstream credential source for a config. */
export function upstreamAuth(cfg: Config): UpstreamAuth {
  return {
    kind: 'token',
    async authorization() {
      if (!cfg.GIT_TOKEN) throw new AppError('PROVIDER_ERROR', 'no upstream git credential is configured (GIT_TOKEN)');
      return `Basic ${btoa(`${cfg.GIT_USERNAME}:${cfg.GIT_TOKEN}`)}`;
    },
    invalidate() {},
  };
}
