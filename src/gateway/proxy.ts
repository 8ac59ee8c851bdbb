// The smart-HTTP git gateway: authenticates a sandbox's git with its gateway credential, enforces
// the ref rules on receive-pack commands, adds the upstream credential on the upstream side only,
// and streams bodies both ways (packs are never buffered or parsed).
import type { Config } from '../config.ts';
import { lockName } from '../lock/rules.ts';
import type { GitPrincipal } from '../pool/types.ts';
import { parseRepoUrl } from '../git/validate.ts';
import type { Logger } from '../lib/log.ts';
import { verifyAuthorization } from './credentials.ts';
import { decidePush, type PushPrincipal } from './ref-rules.ts';
import { ProtocolError, readCommands, refusalReport } from './pkt-line.ts';
import { upstreamAuth } from './upstream-auth.ts';

/** Header a lander's push carries: the RepoLock fencing token it holds. */
export const FENCE_HEADER = 'x-git-sandbox-fence';

const ROUTE = /^\/git\/(.+)\.git\/(info\/refs|git-upload-pack|git-receive-pack)$/;
const FORWARD_HEADERS = ['content-type', 'accept', 'git-protocol', 'content-encoding', 'user-agent'];

/** What the gateway needs from the Worker. */
export interface GatewayDeps {
  env: Env;
  cfg: Config;
  log: Logger;
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(`${body}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers } });
}

const unauthorized = () => text(401, 'git-sandbox: a valid lease credential is required (it ends with the lease)', { 'www-authenticate': 'Basic realm="git-sandbox"' });

/** Handles one git smart-HTTP request to `/git/<repo key>.git/<service path>`. */
export async function handleGit(req: Request, deps: GatewayDeps): Promise<Response> {
  const url = new URL(req.url);
  const route = ROUTE.exec(url.pathname);
  if (!route) return text(404, 'git-sandbox: not a git smart-HTTP path');
  const [, repoKey, op] = route;
  const service = op === 'info/refs' ? url.searchParams.get('service') : op;
  if (service !== 'git-upload-pack' && service !== 'git-receive-pack') return text(403, 'git-sandbox: only the smart-HTTP protocol is served');
  if ((op === 'info/refs') !== (req.method === 'GET')) return text(405, 'git-sandbox: wrong method', { allow: op === 'info/refs' ? 'GET' : 'POST' });

  const who = await verifyAuthorization(deps.cfg.ERROR_ENCRYPTION_KEY, req.headers.get('authorization'));
  if (!who) return unauthorized();
  const principal = await deps.env.POOL_COORDINATOR.get(deps.env.POOL_COORDINATOR.idFromName(who.pool)).gitPrincipal(who.id);
  if (!principal) return unauthorized();
  if (principal.repoKey !== repoKey) return text(403, 'git-sandbox: this credential is bound to another repository');
  if (service === 'git-receive-pack' && principal.kind === 'member') return text(403, 'git-sandbox: this credential is read-only');

  const repo = parseRepoUrl(principal.repoUrl);
  const upstreamUrl = `${repo.url}/${op}${url.search}`;
  const headers = new Headers();
  for (const h of FORWARD_HEADERS) {
    const v = req.headers.get(h);
    if (v) headers.set(h, v);
  }
  const auth = upstreamAuth(deps.cfg);
  const send = async (body: BodyInit | null): Promise<Response> => {
    headers.set('authorization', await auth.authorization(repo));
    return fetch(upstreamUrl, { method: req.method, headers, body, redirect: 'manual' });
  };

  let body: ReadableStream<Uint8Array> | null = req.body;
  if (op === 'git-receive-pack') {
    if (!body) return text(400, 'git-sandbox: empty receive-pack request');
    if (req.headers.get('content-encoding')) return text(415, 'git-sandbox: compressed receive-pack bodies are not accepted');
    const reader = body.getReader();
    let section;
    try {
      section = await readCommands(reader);
    } catch (e) {
      reader.cancel().catch(() => {});
      if (e instanceof ProtocolError) return text(400, `git-sandbox: ${e.message}`);
      throw e;
    }
    const pusher: PushPrincipal = { kind: principal.kind, agentId: principal.agentId, leaseId: principal.leaseId, baseBranch: principal.baseBranch };
    if (principal.kind === 'lander') pusher.fenceValid = await fenceValid(deps.env, repoKey, principal.baseBranch, req.headers.get(FENCE_HEADER));
    const refused = decidePush(pusher, section.commands);
    deps.log.info('gateway_push', { lease: principal.leaseId, agent: principal.agentId, refs: section.commands.map((c) => c.ref).slice(0, 20), refused: refused.length > 0 });
    if (refused.length) {
      // The client sends its whole body before it reads the answer: drain it (not kept) first.
      await drain(reader);
      return new Response(refusalReport(refused, section.capabilities), {
        status: 200,
        headers: { 'content-type': 'application/x-git-receive-pack-result', 'cache-control': 'no-store' },
      });
    }
    body = prepend(section.head, reader);
  }
  let res = await send(body);
  if (res.status === 401 && op === 'info/refs') {
    // An upstream credential can expire or be rotated: refresh once (only a bodiless request can be replayed).
    auth.invalidate(repo);
    res = await send(null);
  }
  if (res.status === 401 || res.status === 403) {
    deps.log.error('gateway_upstream_refused', { repo: repo.key, status: res.status });
    return text(502, 'git-sandbox: the upstream refused the service credential');
  }
  const out = new Headers({ 'cache-control': 'no-store' });
  for (const h of ['content-type', 'content-encoding']) {
    const v = res.headers.get(h);
    if (v) out.set(h, v);
  }
  return new Response(res.body, { status: res.status, headers: out });
}

/** Whether `fence` is the current, unexpired token of the RepoLock of repo + base. */
async function fenceValid(env: Env, repoKey: string, base: string, fence: string | null): Promise<boolean> {
  if (!fence || !/^\d{1,15}$/.test(fence)) return false;
  const st = await env.REPO_LOCK.get(env.REPO_LOCK.idFromName(lockName(repoKey, base))).inspect();
  return !!st.holder && st.token === Number(fence) && st.expires_at > Date.now();
}

/** A stream of `head` followed by the rest of `reader`. */
function prepend(head: Uint8Array, reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  let sentHead = head.length === 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!sentHead) {
        sentHead = true;
        controller.enqueue(head);
        return;
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  for (;;) {
    const { done } = await reader.read();
    if (done) return;
  }
}

export type { GitPrincipal };
