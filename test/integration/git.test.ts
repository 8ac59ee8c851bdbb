import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/client.ts';
import { lockName } from '../../src/lock/rules.ts';
import { call, callJson, env, newAgent, newRepo, oracle, remoteGit } from './helpers.ts';

async function lease(key: string, repoUrl: string) {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}` } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; agent_branch: string; workdir: string };
}

async function put(key: string, id: string, path: string, content: string) {
  const r = await call('PUT', `/v1/sandboxes/${id}/files/${path}`, { key, raw: content });
  expect(r.status).toBe(200);
}

describe('git workflows', () => {
  it('lands all 10 commits when 10 agents push different files to base at the same moment', async () => {
    const repo = await newRepo();
    const agents = await Promise.all(Array.from({ length: 10 }, () => newAgent('ten')));
    const leases = await Promise.all(agents.map((a) => lease(a.key, repo.url)));
    await Promise.all(leases.map((l, i) => put(agents[i].key, l.id, `agents/file-${i}.txt`, `from agent ${i}\n`)));
    const results = await Promise.all(
      leases.map((l, i) => callJson('POST', `/v1/sandboxes/${l.id}/push`, { key: agents[i].key, body: { message: `agent ${i} change`, target: 'base' } })),
    );
    for (const r of results) expect(r.status, JSON.stringify(r.body)).toBe(200);
    // Pushes that arrive while a batch lands are landed together by the next lock holder.
    expect(Math.max(...results.map((r) => r.body.batch_size))).toBeGreaterThan(1);
    const log = await remoteGit(repo.name, 'log', '--format=%s', 'main');
    for (let i = 0; i < 10; i++) expect(log).toContain(`agent ${i} change`);
    const tree = await remoteGit(repo.name, 'ls-tree', '-r', '--name-only', 'main');
    for (let i = 0; i < 10; i++) expect(tree).toContain(`agents/file-${i}.txt`);
    // Linear history of 11 commits (seed + 10): nothing was forced over anything else.
    expect((await remoteGit(repo.name, 'rev-list', '--count', 'main')).trim()).toBe('11');
    const reflog = await remoteGit(repo.name, 'rev-list', '--count', '--first-parent', 'main');
    expect(reflog.trim()).toBe('11');
    expect(results.some((r) => r.body.rebased)).toBe(true);
    // Every queue ref the batches consumed is gone from the remote.
    expect(await remoteGit(repo.name, 'for-each-ref', 'refs/git-sandbox')).toBe('');
    await Promise.all(leases.map((l, i) => call('DELETE', `/v1/sandboxes/${l.id}`, { key: agents[i].key })));
  });

  it('reports a same-line conflict as 409 with the path, leaves the loser clean, and calls the webhook', async () => {
    const repo = await newRepo({ 'shared.txt': 'line one\nline two\n' });
    const a = await newAgent('conf');
    const b = await newAgent('conf');
    const la = await lease(a.key, repo.url);
    const lb = await lease(b.key, repo.url);
    await put(a.key, la.id, 'shared.txt', 'line one by A\nline two\n');
    await put(b.key, lb.id, 'shared.txt', 'line one by B\nline two\n');
    const ra = await callJson('POST', `/v1/sandboxes/${la.id}/push`, { key: a.key, body: { message: 'A edits', target: 'base' } });
    expect(ra.status).toBe(200);
    const rb = await callJson('POST', `/v1/sandboxes/${lb.id}/push`, { key: b.key, body: { message: 'B edits', target: 'base' } });
    expect(rb.status).toBe(409);
    expect(rb.body.error).toMatchObject({ code: 'MERGE_CONFLICT', conflicts: ['shared.txt'] });
    const st = await callJson('GET', `/v1/sandboxes/${lb.id}/status`, { key: b.key });
    expect(st.body).toMatchObject({ conflicted: [], clean: true, ahead: 1, branch: lb.agent_branch });
    const rebasing = await callJson('POST', `/v1/sandboxes/${lb.id}/exec`, { key: b.key, body: { command: 'test -d .git/rebase-merge -o -d .git/rebase-apply && echo yes || echo no' } });
    expect(rebasing.body.stdout.trim()).toBe('no');
    const hooks = await oracle<{ deliveries: { lease_id: string; paths: string[]; agent_id: string }[] }>('GET', '/webhook');
    expect(hooks.deliveries.find((d) => d.lease_id === lb.id)).toMatchObject({ agent_id: b.agentId, paths: ['shared.txt'] });
    expect(await remoteGit(repo.name, 'show', 'main:shared.txt')).toContain('by A');
  });

  it('absorbs a push that bypassed the lock with the rebase-retry', async () => {
    const repo = await newRepo();
    const { key } = await newAgent('race');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'mine.txt', 'mine\n');
    await oracle('POST', '/race-hook', { repo: repo.name });
    const r = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'mine', target: 'base' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.attempts).toBe(2);
    const tree = await remoteGit(repo.name, 'ls-tree', '-r', '--name-only', 'main');
    expect(tree).toContain('race.txt');
    expect(tree).toContain('mine.txt');
  });

  it('rebases onto commits pushed directly to the remote meanwhile', async () => {
    const repo = await newRepo();
    const { key } = await newAgent('direct');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'a.txt', 'a\n');
    const d = await oracle<{ ok: boolean }>('POST', '/push-direct', { repo: repo.name, file: 'b.txt', content: 'b\n' });
    expect(d.ok).toBe(true);
    const r = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'a', target: 'base' } });
    expect(r.status).toBe(200);
    expect(r.body.rebased).toBe(true);
    const tree = await remoteGit(repo.name, 'ls-tree', '-r', '--name-only', 'main');
    expect(tree).toContain('a.txt');
    expect(tree).toContain('b.txt');
    // The lease's branch now sits on the landed commit, with nothing left to push.
    const head = await callJson('POST', `/v1/sandboxes/${l.id}/exec`, { key, body: { command: 'git rev-parse HEAD' } });
    expect(head.body.stdout.trim()).toBe(r.body.commit);
    expect((await callJson('GET', `/v1/sandboxes/${l.id}/status`, { key })).body).toMatchObject({ ahead: 0, clean: true });
  });

  it('pushes the agent branch with a lease check and records the operation', async () => {
    const repo = await newRepo();
    const { key, agentId } = await newAgent('branch');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'feature.txt', 'feature\n');
    const r = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'feature', author: { name: 'Ada', email: 'ada@example.com' } } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ target_branch: l.agent_branch, attempts: 1, committed: true });
    expect((await remoteGit(repo.name, 'rev-parse', l.agent_branch)).trim()).toBe(r.body.commit);
    expect(await remoteGit(repo.name, 'log', '-1', '--format=%an <%ae>', l.agent_branch)).toContain('Ada <ada@example.com>');
    // A second push of new work fast-forwards the same branch.
    await put(key, l.id, 'feature.txt', 'feature v2\n');
    const r2 = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'feature v2' } });
    expect(r2.status).toBe(200);
    expect((await remoteGit(repo.name, 'rev-list', '--count', l.agent_branch)).trim()).toBe('3');
    await env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global')).project();
    const h = createDb(env);
    try {
      // History rows are written after the answer: wait (bounded) until both are there.
      let ops = await h.db.execute(sql`select op, result, attempts, commit_sha, target_branch from git_operations where lease_id=${l.id} and op='push' order by id`);
      for (let i = 0; i < 50 && ops.rows.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        ops = await h.db.execute(sql`select op, result, attempts, commit_sha, target_branch from git_operations where lease_id=${l.id} and op='push' order by id`);
      }
      expect(ops.rows).toHaveLength(2);
      expect(ops.rows[0]).toMatchObject({ result: 'ok', attempts: 1, commit_sha: r.body.commit, target_branch: l.agent_branch });
      const row = await h.db.execute(sql`select last_operation, status, agent_id from git_sandboxes where lease_id=${l.id}`);
      // The lease row shows lifecycle transitions (the first operation made it in_use); every operation is in git_operations.
      expect(row.rows[0]).toMatchObject({ status: 'in_use', agent_id: agentId });
    } finally {
      await h.close();
    }
  });

  it('pulls new base commits with autostash, and reports a pull conflict with the tree unchanged', async () => {
    const repo = await newRepo({ 'f.txt': 'one\n', 'g.txt': 'gee\n' });
    const { key } = await newAgent('pull');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'g.txt', 'gee local\n');
    await oracle('POST', '/push-direct', { repo: repo.name, file: 'h.txt', content: 'new\n' });
    const p = await callJson('POST', `/v1/sandboxes/${l.id}/pull`, { key });
    expect(p.status).toBe(200);
    expect(p.body.updated).toBe(true);
    const st = await callJson('GET', `/v1/sandboxes/${l.id}/status`, { key });
    expect(st.body.modified).toEqual(['g.txt']);
    expect((await call('GET', `/v1/sandboxes/${l.id}/files/h.txt`, { key }).then((r) => r.text()))).toBe('new\n');
    // A committed local change that conflicts with the remote.
    await put(key, l.id, 'f.txt', 'one local\n');
    await callJson('POST', `/v1/sandboxes/${l.id}/exec`, { key, body: { command: 'git commit -qam local' } });
    await oracle('POST', '/push-direct', { repo: repo.name, file: 'f.txt', content: 'one remote\n' });
    const c = await callJson('POST', `/v1/sandboxes/${l.id}/pull`, { key });
    expect(c.status).toBe(409);
    expect(c.body.error.conflicts).toEqual(['f.txt']);
    expect(await call('GET', `/v1/sandboxes/${l.id}/files/f.txt`, { key }).then((r) => r.text())).toBe('one local\n');
  });

  it('reports status and diff of real changes', async () => {
    const repo = await newRepo({ 'a.txt': '1\n2\n3\n', 'b.txt': 'b\n' });
    const { key } = await newAgent('diff');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'a.txt', '1\ntwo\n3\n4\n');
    await put(key, l.id, 'new dir/c.txt', 'c\n');
    await call('DELETE', `/v1/sandboxes/${l.id}/files/b.txt`, { key });
    await callJson('POST', `/v1/sandboxes/${l.id}/exec`, { key, body: { command: 'git add a.txt' } });
    const st = await callJson('GET', `/v1/sandboxes/${l.id}/status`, { key });
    expect(st.body).toMatchObject({ staged: ['a.txt'], modified: ['b.txt'], untracked: ['new dir/c.txt'], clean: false, ahead: 0, behind: 0 });
    const d = await callJson('GET', `/v1/sandboxes/${l.id}/diff?against=head`, { key });
    expect(d.body.files).toEqual(expect.arrayContaining([{ path: 'a.txt', additions: 2, deletions: 1, binary: false }, { path: 'b.txt', additions: 0, deletions: 1, binary: false }]));
    expect(d.body.diff).toContain('+two');
    expect(d.body.truncated).toBe(false);
    const idx = await callJson('GET', `/v1/sandboxes/${l.id}/diff?against=index&path=a.txt`, { key });
    expect(idx.body.files.map((f: { path: string }) => f.path)).toEqual(['a.txt']);
    const small = await callJson('GET', `/v1/sandboxes/${l.id}/diff?max_bytes=20`, { key });
    expect(small.body.truncated).toBe(true);
    expect(new TextEncoder().encode(small.body.diff).length).toBeLessThanOrEqual(20);
  });

  it('runs commands with exit codes, a timeout and bounded output', async () => {
    const { key } = await newAgent('exec');
    const l = await lease(key, (await newRepo()).url);
    const ok = await callJson('POST', `/v1/sandboxes/${l.id}/exec`, { key, body: { command: 'pwd; echo err >&2; exit 3' } });
    expect(ok.body).toMatchObject({ exit_code: 3, stdout: `${l.workdir}\n`, stderr: 'err\n', truncated: false, timed_out: false });
    const slow = await callJson('POST', `/v1/sandboxes/${l.id}/exec`, { key, body: { command: 'sleep 5', timeout_ms: 300 } });
    expect(slow.body.timed_out).toBe(true);
    const big = await callJson('POST', `/v1/sandboxes/${l.id}/exec`, { key, body: { command: 'head -c 3000000 /dev/zero | tr "\\0" x' } });
    expect(big.body.truncated).toBe(true);
    expect(big.body.stdout.length).toBe(Number(env.MAX_OUTPUT_BYTES ?? 1_048_576));
  });

  it('refuses bad paths, refs and oversize bodies with 400/413 and runs nothing', async () => {
    const { key } = await newAgent('bad');
    const l = await lease(key, (await newRepo()).url);
    await callJson('POST', `/v1/sandboxes/${l.id}/exec`, { key, body: { command: 'ln -s /etc escape && ln -s ../../.. up' } });
    for (const p of ['..%2Fsecret', '.git/config', '%2Fetc%2Fpasswd', 'escape/passwd', 'up/x', 'a%2F..%2F..%2Fb']) {
      const r = await callJson('GET', `/v1/sandboxes/${l.id}/files/${p}`, { key });
      expect(r.status, p).toBe(400);
      expect(r.body.error.code).toBe('INVALID_PATH');
    }
    const w = await call('PUT', `/v1/sandboxes/${l.id}/files/escape/evil`, { key, raw: 'x' });
    expect(w.status).toBe(400);
    const missing = await callJson('GET', `/v1/sandboxes/${l.id}/files/nope.txt`, { key });
    expect(missing.status).toBe(404);
    const push = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'x', paths: ['../x'] } });
    expect(push.status).toBe(400);
    const noMsg = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { target: 'base' } });
    expect(noMsg.status).toBe(400);
    const big = await call('PUT', `/v1/sandboxes/${l.id}/files/big.bin`, { key, raw: new Uint8Array(1_048_577) });
    expect(big.status).toBe(413);
    const refs = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: (await newRepo()).url, task_id: 'x', agent_branch: 'bad~ref' } });
    expect(refs.status).toBe(400);
    expect(refs.body.error.code).toBe('INVALID_REF');
    const st = await callJson('GET', `/v1/sandboxes/${l.id}/status`, { key });
    expect(st.body.untracked).toEqual(['escape', 'up']);
  });

  it('answers 423 REPO_LOCKED with Retry-After and the queue position when the lock stays held', async () => {
    const repo = await newRepo();
    const { key } = await newAgent('locked');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'x.txt', 'x\n');
    const lock = env.REPO_LOCK.get(env.REPO_LOCK.idFromName(lockName(new URL(repo.url).host + '/' + repo.name, l.agent_branch)));
    const held = await lock.acquire('someone-else', { ttlMs: 60_000, waitMs: 0 });
    expect(held.ok).toBe(true);
    const r = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'x' } });
    expect(r.status).toBe(423);
    expect(r.body.error).toMatchObject({ code: 'REPO_LOCKED', position: 1 });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    if (held.ok) await lock.release(held.token);
    const again = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'x' } });
    expect(again.status).toBe(200);
  });

  it('withdraws a queued base push that could not get the lock: 423, nothing lands, no queue ref left', async () => {
    const repo = await newRepo();
    const { key } = await newAgent('locked-base');
    const l = await lease(key, repo.url);
    await put(key, l.id, 'y.txt', 'y\n');
    const lock = env.REPO_LOCK.get(env.REPO_LOCK.idFromName(lockName(new URL(repo.url).host + '/' + repo.name, 'main')));
    const held = await lock.acquire('someone-else', { ttlMs: 60_000, waitMs: 0 });
    const r = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'y', target: 'base' } });
    expect(r.status).toBe(423);
    expect(r.body.error.code).toBe('REPO_LOCKED');
    if (held.ok) await lock.release(held.token);
    expect(await remoteGit(repo.name, 'for-each-ref', 'refs/git-sandbox')).toBe('');
    expect((await remoteGit(repo.name, 'rev-list', '--count', 'main')).trim()).toBe('1');
    const again = await callJson('POST', `/v1/sandboxes/${l.id}/push`, { key, body: { message: 'y', target: 'base' } });
    expect(again.status).toBe(200);
    expect((await remoteGit(repo.name, 'rev-list', '--count', 'main')).trim()).toBe('2');
  });
});
