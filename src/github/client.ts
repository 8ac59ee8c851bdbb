// The GitHub API client the service uses for pull requests: @octokit/request (already bundled for the
// GitHub App) against GITHUB_API_URL, authenticated with the upstream credential of
// src/gateway/upstream-auth.ts as a bearer (the App's installation token, or GIT_TOKEN). REST for
// pull requests; GraphQL (`POST <api>/graphql`; GHES: `https://host/api/graphql`) for auto-merge.
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { githubRepo, upstreamAuth } from '../gateway/upstream-auth.ts';
import type { RepoUrl } from '../git/validate.ts';
import { redact } from '../lib/redact.ts';

type Request = typeof import('@octokit/request').request;

/** What one GitHub API call answered: its status and JSON body (a failure is a value, not a throw). */
export interface ApiAnswer {
  status: number;
  data: unknown;
}

/** The API as one repository's calls see it. */
export interface GitHubClient {
  owner: string;
  repo: string;
  /** Calls a REST route (`'GET /repos/{owner}/{repo}/pulls'`; owner and repo are filled in); HTTP errors come back as answers. */
  rest(route: string, params?: Record<string, unknown>): Promise<ApiAnswer>;
  /** Runs a GraphQL operation; GraphQL errors come back in the answer's body (`errors`). */
  graphql(query: string, variables: Record<string, unknown>): Promise<ApiAnswer>;
}

/** The GraphQL endpoint of a REST base URL: `…/api/v3` (GHES) becomes `…/api/graphql`, anything else gains `/graphql`. */
export function graphqlUrl(apiUrl: string): string {
  const base = apiUrl.replace(/\/+$/, '');
  return /\/api\/v3$/.test(base) ? `${base.slice(0, -3)}/graphql` : `${base}/graphql`;
}

/** The client for `repo`: its owner/name on GitHub and calls authenticated with the upstream credential. */
export async function githubClient(cfg: Config, repo: RepoUrl): Promise<GitHubClient> {
  const { owner, name } = githubRepo(repo);
  const auth = upstreamAuth(cfg);
  const { request: base } = await import('@octokit/request');
  const request: Request = base.defaults({ baseUrl: cfg.GITHUB_API_URL.replace(/\/+$/, ''), headers: { 'x-github-api-version': '2022-11-28' } });
  // An installation token revoked upstream answers 401: minted anew once, then the call is retried.
  const call = async (send: (authorization: string) => Promise<ApiAnswer>): Promise<ApiAnswer> => {
    const first = await send(`bearer ${await auth.token(repo)}`);
    if (first.status !== 401 || auth.kind !== 'app') return first;
    auth.invalidate(repo);
    return send(`bearer ${await auth.token(repo)}`);
  };
  const answer = async (p: Promise<{ status: number; data: unknown }>, what: string): Promise<ApiAnswer> => {
    try {
      const r = await p;
      return { status: r.status, data: r.data };
    } catch (e) {
      const status = (e as { status?: unknown })?.status;
      const data = (e as { response?: { data?: unknown } })?.response?.data;
      if (typeof status === 'number' && status > 0 && status < 600) return { status, data: data ?? null };
      const text = redact(e instanceof Error ? `${e.name}: ${e.message}` : String(e), [cfg.GIT_TOKEN, cfg.GITHUB_APP_PRIVATE_KEY]);
      throw new AppError('PROVIDER_ERROR', `the GitHub API could not be reached (${what})`, { internal: text.slice(0, 500), retryAfterS: 5 });
    }
  };
  return {
    owner,
    repo: name,
    rest: (route, params = {}) => call((authorization) => answer(request(route, { owner, repo: name, ...params, headers: { authorization } }), route)),
    graphql: (query, variables) =>
      call((authorization) => answer(request(`POST ${graphqlUrl(cfg.GITHUB_API_URL)}`, { query, variables, headers: { authorization } }), 'graphql')),
  };
}

/** The message GitHub gave for a failed call (`message`, or the first GraphQL error's), for logs and public text. */
export function apiMessage(a: ApiAnswer): string {
  const d = a.data as { message?: unknown; errors?: { message?: unknown }[] } | null;
  const m = typeof d?.message === 'string' ? d.message : typeof d?.errors?.[0]?.message === 'string' ? d.errors[0].message : '';
  return m.slice(0, 300);
}
