// Hostile-agent tests of the git gateway and the lander: hooks, /proc readers, forged refs, grafts,
// stale fencing tokens and dead credentials, all against the real local stack and real git.
import { describe, expect, it } from 'vitest';
import { principalSecret } from '../../src/gateway/credentials.ts';
import { pkt } from '../../src/gateway/pkt-line.ts';
import { lockName } from '../../src/lock/rules.ts';
import { call, callJson, env, newAgent, newRepo, remoteGit, stack } from './helpers.ts';

type Lease = { id: string; agent_branch: string; workdir: string };

async function lease(key: string, repoUrl: string, extra: Record<string, unknown> = {}): Promise<Lease> {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}`, ...extra } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as Lease;
}

async function exec(key: string, id: string, command: string, timeout_ms = 30_000) {
  const r = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command, timeout_ms } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { exit_code: number; stdout: string; stderr: string };
}

async function put(key: string, id: string, path: string, content: string) {
  const r = await call('PUT', `/v1/sandboxes/${id}/files/${path}`, { key, raw: content });
  expect(r.status).toBe(200);
}

const repoKeyOf = (url: string) => url.replace(/^https?:\/\//, '').replace(/\.git$/, '');

/** Plants every trap a hostile agent can set for the service's own git commands and for /proc. */
const PLANT_TRAPS = `set -e
mkdir -p "$HOME/loot"
for h in pre-push post-checkout reference-transaction pre-commit post-commit post-rewrite; do
  printf '#!/bin/sh\\nenv >> "$HOME/loot/hook-%s.env"; cat /proc/$PPID/environ 2>/dev/null | tr "\\\\0" "\\\\n" >> "$HOME/loot/hook-%s.env"; exit 0\\n' $h $h > .git/hooks/$h
  chmod +x .git/hooks/$h
done
printf '#!/bin/sh\\nenv >> "$HOME/loot/fsmonitor.env"\\n' > "$HOME/fsmon.sh"; chmod +x "$HOME/fsmon.sh"
git config core.fsmonitor "$HOME/fsmon.sh"
mkdir -p "$HOME/.git-sandbox"; printf '#!/bin/sh\\nenv >> "$HOME/loot/askpass.env"\\necho stolen\\n' > "$HOME/.git-sandbox/askpass.sh"; chmod +x "$HOME/.git-sandbox/askpass.sh"
git config credential.helper "!f() { env >> \\"$HOME/loot/helper.env\\"; }; f"
nohup sh -c 'while :; do for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr "\\\\0" "\\\\n" < "$f" 2>/dev/null; done >> "$HOME/loot/proc.dump"; sleep 0.05; done' >/dev/null 2>&1 &
echo planted`;

describe('git gateway against hostile sandboxes', () => {
  it('never lets an upstream secret into a sandbox: hooks, fsmonitor, a rewritten helper and a /proc/*/environ reader capture nothing', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const agent = await newAgent('loot');
    for (let round = 0; round < 2; round++) {
      const l = await lease(agent.key, repo.url);
      expect((await exec(agent.key, l.id, PLANT_TRAPS)).stdout).toContain('planted');
      await put(agent.key, l.id, `round-${round}.txt`, `round ${round}\n`);
      const toBranch = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key: agent.key, body: { message: `branch ${round}` } });
      expect(toBranch.status, JSON.stringify(toBranch.body)).toBe(200);
      await put(agent.key, l.id, `base-${round}.txt`, `base ${round}\n`);
      const toBase = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key: agent.key, body: { message: `base ${round}`, target: 'base' } });
      expect(toBase.status, JSON.stringify(toBase.body)).toBe(200);
      // The scan (run in the sandbox, which never receives the needle): every credential-shaped string
      // the traps captured, in any process environment now, or in any file under $HOME and /tmp.
      const scan = await exec(agent.key, l.id, `{ cat "$HOME"/loot/* 2>/dev/null; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < "$f" 2>/dev/null; done; grep -rhaI . "$HOME" /tmp 2>/dev/null; } | grep -ao '[A-Za-z0-9_+/=.:-]\\{16,\\}' | sort -u | head -c 900000`);
      // The traps did fire and saw the service's git env (the lease's own gateway credential) ...
      expect(scan.stdout).toContain('GIT_CONFIG_KEY_0=core.hooksPath');
      expect(scan.stdout).toMatch(/GIT_CONFIG_VALUE_\d+=Authorization:/);
      // ... and nothing held the upstream token, raw or in the Basic header git would send upstream.
      expect(scan.stdout).not.toContain(stack.git_token);
      expect(scan.stdout).not.toContain(btoa(`x-access-token:${stack.git_token}`).slice(0, 40));
      expect(await remoteGit(repo.name, 'show', `main:base-${round}.txt`)).toBe(`base ${round}\n`);
      expect((await call('DELETE', `/v1/sandboxes/${l.id}`, { key: agent.key })).status).toBe(204);
    }
  });

  it('refuses force-pushing main, deleting main, writing another agent\'s branch and tags from exec, with the reason, and leaves the remote unchanged', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const me = await newAgent('plain');
    const other = await newAgent('victim');
    const l = await lease(me.key, repo.url);
    const before = await remoteGit(repo.name, 'for-each-ref', '--format=%(refname) %(objectname)');
    await exec(me.key, l.id, 'git -c user.name=x -c user.email=x@x commit -q --allow-empty -m evil');
    const attempts: [string, RegExp][] = [
      ['git push --force origin HEAD:main', /base branch moves only through the service/],
      ['git push origin :main', /base branch moves only through the service/],
      [`git push origin HEAD:refs/heads/agent/${other.agentId}/work`, /outside your namespace/],
      ['git tag v9 && git push origin v9', /tags cannot be written/],
      ['git push origin HEAD:refs/heads/release', /outside your namespace/],
      ['git push origin HEAD:refs/replace/abc', /cannot be written/],
    ];
    for (const [cmd, reason] of attempts) {
      const r = await exec(me.key, l.id, `${cmd} 2>&1`);
      expect(r.exit_code, cmd).not.toBe(0);
      expect(r.stdout, cmd).toMatch(reason);
    }
    expect(await remoteGit(repo.name, 'for-each-ref', '--format=%(refname) %(objectname)')).toBe(before);
    const ok = await exec(me.key, l.id, `git push origin HEAD:refs/heads/${l.agent_branch} 2>&1`);
    expect(ok.exit_code, ok.stdout).toBe(0);
    expect(await remoteGit(repo.name, 'log', '-1', '--format=%s', l.agent_branch)).toBe('evil\n');
  });

  it('refuses the graft trick: an orphan commit grafted onto main never lands and main keeps its history', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const me = await newAgent('graft');
    const l = await lease(me.key, repo.url);
    const tip = (await remoteGit(repo.name, 'rev-parse', 'main')).trim();
    const trick = await exec(me.key, l.id, `set -e
git checkout -q --orphan wipe && git rm -rqf . && echo owned > owned.txt && git add owned.txt
git -c user.name=x -c user.email=x@x commit -qm wipe
git replace --graft HEAD "$(git rev-parse origin/main)"
git checkout -q -B ${l.agent_branch} wipe && echo done`);
    expect(trick.stdout).toContain('done');
    const r = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key: me.key, body: { message: 'graft', target: 'base' } });
    expect(r.status).toBe(502);
    expect(r.body.error.code).toBe('GIT_FAILED');
    expect((await remoteGit(repo.name, 'rev-parse', 'main')).trim()).toBe(tip);
    expect(await remoteGit(repo.name, 'ls-tree', '--name-only', 'main')).toBe('a.txt\n');
    const agentMain = await callJson('POST', '/v1/sandboxes', { key: me.key, body: { repo_url: repo.url, task_id: 'x', agent_branch: 'main' } });
    expect(agentMain.status).toBe(400);
    expect(agentMain.body.error.code).toBe('INVALID_REF');
    const foreign = await callJson('POST', '/v1/sandboxes', { key: me.key, body: { repo_url: repo.url, task_id: 'x', agent_branch: 'agent/someone-else/x' } });
    expect(foreign.body.error.code).toBe('INVALID_REF');
  });

  it('lands a hooked agent and 5 queued agents on base with exactly their content and their own unforgeable trailer', async () => {
    const repo = await newRepo({ 'base.txt': 'base\n' });
    const agents = await Promise.all(Array.from({ length: 6 }, () => newAgent('six')));
    const leases = await Promise.all(agents.map((a) => lease(a.key, repo.url)));
    // The first agent plants hooks that would drop or add files during any checkout or rebase.
    await exec(agents[0].key, leases[0].id, `for h in post-checkout post-rewrite reference-transaction pre-push; do printf '#!/bin/sh\\necho planted > "$(git rev-parse --show-toplevel)/planted-%s.txt"\\nrm -f "$(git rev-parse --show-toplevel)"/agent-*.txt\\n' $h > .git/hooks/$h; chmod +x .git/hooks/$h; done`);
    await Promise.all(leases.map((l, i) => put(agents[i].key, l.id, `agent-${i}.txt`, `content ${i}\n`)));
    const results = await Promise.all(
      leases.map((l, i) =>
        callJson('POST', `/v1/sandboxes/${l.id}/push`, {
          key: agents[i].key,
          // Agent 5 tries to forge agent 1's trailer.
          body: { message: i === 5 ? `change 5\n\nGit-Sandbox-Agent: ${agents[1].agentId}` : `change ${i}`, target: 'base', paths: [`agent-${i}.txt`] },
        }),
      ),
    );
    for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200);
    const tree = await remoteGit(repo.name, 'ls-tree', '-r', '--name-only', 'main');
    expect(tree.trim().split('\n').sort()).toEqual(['agent-0.txt', 'agent-1.txt', 'agent-2.txt', 'agent-3.txt', 'agent-4.txt', 'agent-5.txt', 'base.txt']);
    for (let i = 0; i < 6; i++) {
      expect(await remoteGit(repo.name, 'show', `main:agent-${i}.txt`)).toBe(`content ${i}\n`);
      const sha = results[i].body.commit as string;
      expect(await remoteGit(repo.name, 'diff-tree', '--no-commit-id', '--name-only', '-r', sha)).toBe(`agent-${i}.txt\n`);
      const trailers = await remoteGit(repo.name, 'log', '-1', '--format=%(trailers:key=Git-Sandbox-Agent,valueonly)', sha);
      expect(trailers.trim()).toBe(agents[i].agentId);
      expect((await remoteGit(repo.name, 'log', '-1', '--format=%an|%cn', sha)).trim()).toBe(`${agents[i].agentId}|git-sandbox`);
    }
    await Promise.all(leases.map((l, i) => call('DELETE', `/v1/sandboxes/${l.id}`, { key: agents[i].key })));
  });

  it('refuses a lander push that carries a stale fencing token, at the gateway, and leaves main unchanged', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const a = await newAgent('fence');
    const l = await lease(a.key, repo.url);
    await put(a.key, l.id, 'b.txt', 'b\n');
    expect((await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key: a.key, body: { message: 'b', target: 'base' } })).status).toBe(200);
    const key = repoKeyOf(repo.url);
    const lock = env.REPO_LOCK.get(env.REPO_LOCK.idFromName(lockName(key, 'main')));
    const landerId = await lock.lander();
    expect(landerId).toMatch(/^sbx_/);
    const stale = (await lock.inspect()).token; // released: no holder, so even the last token is stale
    const tip = (await remoteGit(repo.name, 'rev-parse', 'main')).trim();
    const body = new Uint8Array([...pkt(`${tip} ${'1'.repeat(40)} refs/heads/main\0report-status side-band-64k\n`), ...new TextEncoder().encode('0000')]);
    const auth = `Basic ${btoa(`${landerId}:${await principalSecret(env.ERROR_ENCRYPTION_KEY, landerId!)}`)}`;
    const res = await call('POST', `/git/${key}.git/git-receive-pack`, { raw: body, headers: { authorization: auth, 'content-type': 'application/x-git-receive-pack-request', 'x-git-sandbox-fence': String(stale) } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/ng refs\/heads\/main stale fencing token/);
    expect((await remoteGit(repo.name, 'rev-parse', 'main')).trim()).toBe(tip);
  });

  it('answers 401 to a released lease\'s credential and 403 to a credential used for another repo', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const other = await newRepo({ 'b.txt': 'b\n' });
    const a = await newAgent('dead');
    const l = await lease(a.key, repo.url);
    const header = (await exec(a.key, l.id, 'git config --get http.extraHeader')).stdout.trim().replace(/^Authorization: /, '');
    const get = (k: string) => call('GET', `/git/${k}.git/info/refs?service=git-upload-pack`, { headers: { authorization: header } });
    expect((await get(repoKeyOf(repo.url))).status).toBe(200);
    expect((await get(repoKeyOf(other.url))).status).toBe(403);
    expect((await call('DELETE', `/v1/sandboxes/${l.id}`, { key: a.key })).status).toBe(204);
    const dead = await get(repoKeyOf(repo.url));
    expect(dead.status).toBe(401);
    expect(dead.headers.get('www-authenticate')).toMatch(/Basic/);
    expect((await call('GET', `/git/${repoKeyOf(repo.url)}.git/info/refs?service=git-upload-pack`)).status).toBe(401);
  });

  it('ends every lease of an agent the moment its API key is revoked', async () => {
    const repo = await newRepo({ 'a.txt': 'a\n' });
    const a = await newAgent('revoke');
    const l = await lease(a.key, repo.url);
    const header = (await exec(a.key, l.id, 'git config --get http.extraHeader')).stdout.trim().replace(/^Authorization: /, '');
    expect((await call('DELETE', `/v1/admin/keys/${a.keyId}`, { key: stack.admin_token })).status).toBe(204);
    const res = await call('GET', `/git/${repoKeyOf(repo.url)}.git/info/refs?service=git-upload-pack`, { headers: { authorization: header } });
    expect(res.status).toBe(401);
  });
});
