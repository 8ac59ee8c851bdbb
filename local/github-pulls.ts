// The GitHub pull request subset the service uses, served offline by the local git server under
// `/api` over its bare repos: list, create, read, update and merge pull requests
// (`/repos/{owner}/{repo}/pulls[/{n}[/merge]]`) and the `enablePullRequestAutoMerge` GraphQL mutation
// (`POST /api/graphql`). Bearer auth: the server's static token or an App installation token that
// covers the repo. Pull requests live in memory. A repo's required status check is its bare-repo
// config `github.requiredStatus` (`pending`, `success` or `failure`; unset: no checks), so tests can
// hold an auto-merge back and release it.
import { existsSync } from 'node:fs';
import type http from 'node:http';
import { ownerName, pathOf, readJson } from './github-api.ts';
import { branchTip, commitsAhead, configValue, isAncestor, mergeable, mergePullRequest, type MergeMethod } from './pull-git.ts';
import { repoPath } from './seed.ts';

/** Options of the pull request API. */
export interface PullsApiOptions {
  /** Directory holding the bare repos. */
  root: string;
  /** The server's own URL (`http://127.0.0.1:PORT`). */
  baseUrl: () => string;
  /** Whether bearer `token` may use repo path `repo` (e.g. `demo`, `acme/app`). */
  allows(token: string, repo: string): boolean;
}

/** The pull request side of `/api`. */
export interface PullsApi {
  /** Whether this API serves `method pathname` (pathname below `/api`). */
  handles(method: string, pathname: string): boolean;
  /** Serves one request it handles. */
  serve(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<number>;
}

interface Pull {
  number: number;
  title: string;
  body: string;
  draft: boolean;
  head: string;
  base: string;
  /** The head commit when the pull request was last read or merged. */
  headSha: string;
  state: 'open' | 'closed';
  merged: boolean;
  mergedAt: string | null;
  mergeCommitSha: string | null;
  autoMerge: MergeMethod | null;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
}

const PULLS = /^\/repos\/([^/]+)\/([^/]+)\/pulls(?:\/(\d+)(\/merge)?)?$/;
const METHODS: readonly MergeMethod[] = ['merge', 'squash', 'rebase'];
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Creates the pull request API over the bare repos in `o.root`. */
export function createPullsApi(o: PullsApiOptions): PullsApi {
  const pulls = new Map<string, Pull[]>(); // repo path → its pull requests, number = index + 1
  const chains = new Map<string, Promise<unknown>>(); // one mutation at a time per repo

  const serial = <T>(repo: string, fn: () => Promise<T>): Promise<T> => {
    const next = (chains.get(repo) ?? Promise.resolve()).then(fn, fn);
    chains.set(repo, next.catch(() => undefined));
    return next;
  };
  const dirOf = (repo: string) => repoPath(o.root, repo);
  const nodeId = (repo: string, n: number) => `PR_${Buffer.from(JSON.stringify([repo, n])).toString('base64url')}`;
  const fromNodeId = (id: unknown): { repo: string; n: number } | null => {
    try {
      const [repo, n] = JSON.parse(Buffer.from(String(id).replace(/^PR_/, ''), 'base64url').toString('utf8')) as [unknown, unknown];
      return typeof repo === 'string' && typeof n === 'number' ? { repo, n } : null;
    } catch {
      return null;
    }
  };

  /** The required check's state, or null when the repo has none. */
  const check = (repo: string) => configValue(dirOf(repo), 'github.requiredStatus');

  /** Merges `p` by `method` when it can; the answer GitHub's merge endpoint would give. */
  async function merge(repo: string, p: Pull, method: MergeMethod, sha?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const dir = dirOf(repo);
    if (p.state !== 'open') return { status: 405, body: { message: 'Pull Request is not mergeable' } };
    const [baseSha, headSha] = [await branchTip(dir, p.base), await branchTip(dir, p.head)];
    if (!baseSha || !headSha) return { status: 405, body: { message: 'Pull Request is not mergeable' } };
    if (sha && sha !== headSha) return { status: 409, body: { message: 'Head branch was modified. Review and try the merge again.' } };
    const status = await check(repo);
    if (status && status !== 'success') return { status: 405, body: { message: 'Required status check "ci" is expected.' } };
    const owner = ownerName(repo)?.owner ?? 'local';
    const message = method === 'merge' ? `Merge pull request #${p.number} from ${owner}/${p.head}\n\n${p.title}` : `${p.title} (#${p.number})${p.body ? `\n\n${p.body}` : ''}`;
    const out = await mergePullRequest({ dir, base: p.base, baseSha, headSha, method, message });
    if (out.kind === 'conflict') return { status: 405, body: { message: 'Pull Request is not mergeable' } };
    if (out.kind === 'moved') return { status: 409, body: { message: 'Base branch was modified. Review and try the merge again.' } };
    Object.assign(p, { state: 'closed', merged: true, mergedAt: now(), closedAt: now(), updatedAt: now(), mergeCommitSha: out.sha, headSha, autoMerge: null });
    return { status: 200, body: { sha: out.sha, merged: true, message: 'Pull Request successfully merged' } };
  }

  /** Brings `p` up to date as GitHub would on a read: merged when its head reached the base, auto-merged once it can be. */
  async function settle(repo: string, p: Pull): Promise<void> {
    if (p.state !== 'open') return;
    const dir = dirOf(repo);
    const [baseSha, headSha] = [await branchTip(dir, p.base), await branchTip(dir, p.head)];
    if (headSha) p.headSha = headSha;
    if (baseSha && headSha && headSha !== baseSha && (await isAncestor(dir, headSha, baseSha))) {
      Object.assign(p, { state: 'closed', merged: true, mergedAt: now(), closedAt: now(), mergeCommitSha: headSha, autoMerge: null });
      return;
    }
    if (p.autoMerge && baseSha && headSha && (await mergeable(dir, baseSha, headSha))) await merge(repo, p, p.autoMerge);
  }

  async function json(repo: string, p: Pull): Promise<Record<string, unknown>> {
    const { owner, name } = ownerName(repo) ?? { owner: 'local', name: repo };
    const dir = dirOf(repo);
    const baseSha = await branchTip(dir, p.base);
    const clean = p.state === 'open' && baseSha ? await mergeable(dir, baseSha, p.headSha) : null;
    const status = p.state === 'open' ? await check(repo) : null;
    const api = `${o.baseUrl()}/api/repos/${owner}/${name}`;
    const side = (ref: string, sha: string | null) => ({ label: `${owner}:${ref}`, ref, sha, repo: { name, full_name: `${owner}/${name}` } });
    return {
      url: `${api}/pulls/${p.number}`,
      html_url: `${o.baseUrl()}/${owner}/${name}/pull/${p.number}`,
      id: p.number,
      node_id: nodeId(repo, p.number),
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      draft: p.draft,
      merged: p.merged,
      mergeable: clean,
      mergeable_state: p.state !== 'open' ? 'unknown' : clean === false ? 'dirty' : status && status !== 'success' ? 'blocked' : clean ? 'clean' : 'unknown',
      merged_at: p.mergedAt,
      merge_commit_sha: p.mergeCommitSha,
      auto_merge: p.autoMerge ? { enabled_by: { login: 'git-sandbox' }, merge_method: p.autoMerge, commit_title: null, commit_message: null } : null,
      head: side(p.head, p.headSha),
      base: side(p.base, baseSha),
      user: { login: 'git-sandbox' },
      created_at: p.createdAt,
      updated_at: p.updatedAt,
      closed_at: p.closedAt,
    };
  }

  const invalid = (field: string, message?: string) => ({ message: 'Validation Failed', errors: [{ resource: 'PullRequest', field, code: message ? 'custom' : 'invalid', ...(message && { message }) }] });

  async function rest(req: http.IncomingMessage, body: Record<string, unknown>, repo: string, m: RegExpExecArray): Promise<[number, unknown]> {
    const list = pulls.get(repo) ?? [];
    pulls.set(repo, list);
    const url = new URL(req.url ?? '/', 'http://x');
    const n = m[3] ? Number(m[3]) : null;
    const p = n ? list[n - 1] : undefined;
    if (n && !p) return [404, { message: 'Not Found' }];
    if (!n && req.method === 'GET') {
      const state = url.searchParams.get('state') ?? 'open';
      const head = url.searchParams.get('head');
      const base = url.searchParams.get('base');
      const out = [];
      for (const q of [...list].reverse()) {
        await settle(repo, q);
        if (state !== 'all' && q.state !== state) continue;
        if (head && `${ownerName(repo)?.owner}:${q.head}` !== head) continue;
        if (base && q.base !== base) continue;
        out.push(await json(repo, q));
      }
      return [200, out.slice(0, Number(url.searchParams.get('per_page') ?? 30))];
    }
    if (!n && req.method === 'POST') {
      const { title, head: rawHead, base, body: text, draft } = body;
      if (typeof title !== 'string' || !title) return [422, invalid('title')];
      const head = typeof rawHead === 'string' ? rawHead.replace(/^[^:]+:/, '') : '';
      const dir = dirOf(repo);
      const headSha = head ? await branchTip(dir, head) : null;
      if (!headSha) return [422, invalid('head')];
      if (typeof base !== 'string' || !(await branchTip(dir, base))) return [422, invalid('base')];
      if (list.some((q) => q.state === 'open' && q.head === head && q.base === base)) return [422, invalid('head', `A pull request already exists for ${ownerName(repo)?.owner}:${head}.`)];
      if ((await commitsAhead(dir, base, head)) === 0) return [422, invalid('head', `No commits between ${base} and ${head}`)];
      const t = now();
      const pull: Pull = { number: list.length + 1, title, body: typeof text === 'string' ? text : '', draft: draft === true, head, base, headSha, state: 'open', merged: false, mergedAt: null, mergeCommitSha: null, autoMerge: null, createdAt: t, updatedAt: t, closedAt: null };
      list.push(pull);
      return [201, await json(repo, pull)];
    }
    if (p && !m[4] && req.method === 'GET') {
      await settle(repo, p);
      return [200, await json(repo, p)];
    }
    if (p && !m[4] && req.method === 'PATCH') {
      if (typeof body.title === 'string' && body.title) p.title = body.title;
      if (typeof body.body === 'string') p.body = body.body;
      if (body.state === 'closed' && p.state === 'open') Object.assign(p, { state: 'closed', closedAt: now(), autoMerge: null });
      else if (body.state === 'open' && p.state === 'closed' && !p.merged) Object.assign(p, { state: 'open', closedAt: null });
      p.updatedAt = now();
      await settle(repo, p);
      return [200, await json(repo, p)];
    }
    if (p && m[4] && req.method === 'PUT') {
      const method = (body.merge_method ?? 'merge') as MergeMethod;
      if (!METHODS.includes(method)) return [422, invalid('merge_method')];
      const r = await merge(repo, p, method, typeof body.sha === 'string' ? body.sha : undefined);
      return [r.status, r.body];
    }
    return [404, { message: 'Not Found' }];
  }

  /** The auto-merge mutations (the only GraphQL this stand-in answers), as GitHub answers them. */
  async function graphql(body: Record<string, unknown>, token: string): Promise<[number, unknown]> {
    const query = typeof body.query === 'string' ? body.query : '';
    const vars = (body.variables ?? {}) as Record<string, unknown>;
    const fail = (message: string) => [200, { data: null, errors: [{ type: 'UNPROCESSABLE', message }] }] as [number, unknown];
    const enable = /enablePullRequestAutoMerge/.test(query);
    if (!enable && !/disablePullRequestAutoMerge/.test(query)) return fail('This stand-in answers only enablePullRequestAutoMerge and disablePullRequestAutoMerge');
    const ref = fromNodeId(vars.pullRequestId);
    const p = ref ? pulls.get(ref.repo)?.[ref.n - 1] : undefined;
    if (!ref || !p) return fail(`Could not resolve to a node with the global id of '${String(vars.pullRequestId)}'`);
    if (!o.allows(token, ref.repo)) return [200, { data: null, errors: [{ type: 'FORBIDDEN', message: 'Resource not accessible by integration' }] }];
    return serial(ref.repo, async () => {
      if (p.state !== 'open') return fail('Pull request is not open');
      if (enable) {
        const method = String(vars.mergeMethod ?? 'MERGE').toLowerCase() as MergeMethod;
        if (!METHODS.includes(method)) return fail(`Argument 'mergeMethod' has an invalid value (${String(vars.mergeMethod)})`);
        const dir = dirOf(ref.repo);
        const [baseSha, headSha] = [await branchTip(dir, p.base), await branchTip(dir, p.head)];
        const clean = baseSha && headSha ? await mergeable(dir, baseSha, headSha) : null;
        // As on GitHub: a pull request that could merge right now (no pending requirement) is refused.
        if (clean && !(await check(ref.repo))) return fail('Pull request Pull request is in clean status');
        p.autoMerge = method;
        p.updatedAt = now();
        await settle(ref.repo, p);
      } else p.autoMerge = null;
      const prJson = { number: p.number, state: p.merged ? 'MERGED' : p.state.toUpperCase(), autoMergeRequest: p.autoMerge ? { enabledAt: p.updatedAt, mergeMethod: p.autoMerge.toUpperCase() } : null };
      return [200, { data: { [enable ? 'enablePullRequestAutoMerge' : 'disablePullRequestAutoMerge']: { pullRequest: prJson } } }] as [number, unknown];
    });
  }

  return {
    handles: (method, pathname) => PULLS.test(pathname) || (method === 'POST' && pathname === '/graphql'),
    async serve(req, res, pathname) {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
        return status;
      };
      const token = /^(?:Bearer|token)\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!token) {
        req.resume();
        return send(401, { message: 'Requires authentication' });
      }
      let body: Record<string, unknown> = {};
      if (req.method !== 'GET') {
        try {
          body = await readJson(req);
        } catch {
          return send(400, { message: 'Problems parsing JSON' });
        }
      } else req.resume();
      if (pathname === '/graphql') return send(...(await graphql(body, token)));
      const m = PULLS.exec(pathname)!;
      const repo = SEGMENT.test(m[1]) && SEGMENT.test(m[2]) ? pathOf(m[1], m[2]) : '';
      if (!repo || !ownerName(repo) || !existsSync(dirOf(repo))) return send(404, { message: 'Not Found' });
      if (!o.allows(token, repo)) return send(401, { message: 'Bad credentials' });
      return send(...(await serial(repo, () => rest(req, body, repo, m))));
    },
  };
}
