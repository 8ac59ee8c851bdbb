// Nothing crosses a lease: what tenant A leaves in a pool member (processes, files, hooks, config,
// unpushed commits, stashes, dangling objects) is gone when tenant B gets the same sandbox.
import { describe, expect, it } from 'vitest';
import { call, callJson, env, newAgent, newRepo } from './helpers.ts';

const pool = () => env.POOL_COORDINATOR.get(env.POOL_COORDINATOR.idFromName('global'));

async function lease(key: string, repoUrl: string) {
  const r = await callJson('POST', '/v1/sandboxes', { key, body: { repo_url: repoUrl, task_id: `t-${crypto.randomUUID().slice(0, 6)}` } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; agent_branch: string; lease_source: string };
}

async function exec(key: string, id: string, command: string) {
  const r = await callJson('POST', `/v1/sandboxes/${id}/exec`, { key, body: { command } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body as { exit_code: number; stdout: string; stderr: string };
}

async function sandboxOf(leaseId: string, agentId: string): Promise<string> {
  const l = await pool().lookup(leaseId, agentId);
  return (l as { lease: { sandbox_id: string } }).lease.sandbox_id;
}

describe('tenant hygiene', () => {
  it('leaves no process, file, hook, config, ref, reflog, stash or unreachable object of tenant A to tenant B in the same sandbox', async () => {
    const repo = await newRepo({ 'README.md': 'seed\n' });
    const a = await newAgent('hyg-a');
    const b = await newAgent('hyg-b');
    // The marker is built at run time in the sandbox ("$p$q"), so no probe's own command line holds it.
    const [p, q] = ['gsmark', crypto.randomUUID().replace(/-/g, '').slice(0, 12)];
    const mark = `${p}${q}`;
    const la = await lease(a.key, repo.url);
    const sandbox = await sandboxOf(la.id, a.agentId);

    const left = await exec(a.key, la.id, `set -e; m="${p}"'${q}'
      (cd /; setsid bash -c 'while :; do echo "$0" >> "$HOME/live-$0.txt"; echo "$0" >> "\${TMPDIR:-/tmp}/live-$0.txt"; sleep 0.2; done' "$m" </dev/null >/dev/null 2>&1 &)
      echo "$m" > "/tmp/$m.txt"; echo "$m" > "\${TMPDIR:-/tmp}/$m.txt"; echo "$m" > "$HOME/$m.txt"
      mkdir -p "$HOME/.git-sandbox" && echo "$m" > "$HOME/.git-sandbox/$m"; echo "echo $m" >> "$HOME/.profile"
      printf '#!/bin/sh\\necho %s\\n' "$m" > .git/hooks/post-checkout && chmod +x .git/hooks/post-checkout
      git config "alias.$m" "!echo $m" && git config core.pager "echo $m" && echo "$m" > .git/info/exclude
      echo "$m" > "$m.txt" && git add "$m.txt" && git -c user.email=a@b commit -qm "unpushed $m"
      echo "$m-stash" >> README.md && git stash -q
      git tag "tag-$m" && git notes add -m "$m" HEAD && git update-ref "refs/git-sandbox/$m" HEAD
      echo "unpushed=$(git rev-parse HEAD) stash=$(git rev-parse refs/stash) blob=$(echo "$m-blob" | git hash-object -w --stdin)"`);
    expect(left.exit_code, left.stderr).toBe(0);
    const shas = Object.fromEntries(left.stdout.trim().split(' ').map((kv) => kv.split('=')));
    expect(Object.keys(shas)).toEqual(['unpushed', 'stash', 'blob']);
    // The background writer is alive when A leaves.
    expect((await exec(a.key, la.id, `m="${p}"'${q}'; sleep 0.5; grep -c "$m" "$HOME/live-$m.txt"`)).stdout.trim()).not.toBe('0');

    expect((await call('DELETE', `/v1/sandboxes/${la.id}`, { key: a.key })).status).toBe(204);
    await pool().drain();
    const lb = await lease(b.key, repo.url);
    expect(lb.lease_source).toBe('affinity');
    expect(await sandboxOf(lb.id, b.agentId)).toBe(sandbox);

    const probe = await exec(b.key, lb.id, `m="${p}"'${q}'; sleep 0.5
      # The pattern comes from a file, so this grep's own command line does not hold the marker.
      echo "procs=$(grep -lsFf <(echo "$m") /proc/[0-9]*/cmdline /proc/[0-9]*/environ | xargs -r -n1 dirname | sort -u | xargs -r -I{} cat {}/cmdline | tr '\\0\\n' '  ')"
      echo "files=$(grep -rlsF "$m" "$HOME" "\${TMPDIR:-/tmp}" | wc -l)"
      echo "tmp=$(ls -A /tmp | grep -cF "$m")"
      echo "home=$(ls -A "$HOME" | tr '\\n' ' ')"
      echo "hooks=$(ls -A .git/hooks 2>/dev/null | wc -l)"
      echo "config=$(git config --list --show-origin | grep -cF "$m")"
      echo "refs=$(git for-each-ref --format='%(refname)' | grep -cvE '^refs/(remotes/origin/|heads/agent/)')"
      echo "reflog=$(git log -g --all --format='%H %gs %s' 2>/dev/null | grep -cF "$m")"
      echo "stash=$(git stash list | wc -l)"
      echo "unreachable=$(git fsck --unreachable --no-reflogs --no-progress 2>&1 | grep -c unreachable)"
      echo "log=$(git log --all --format=%B | grep -cF "$m")"
      for s in ${shas.unpushed} ${shas.stash} ${shas.blob}; do git cat-file -e "$s" 2>/dev/null && echo "object=$s"; done
      true`);
    const seen = Object.fromEntries(probe.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]));
    expect(seen).toEqual({ procs: '', files: '0', tmp: '0', home: 'repo', hooks: '0', config: '0', refs: '0', reflog: '0', stash: '0', unreachable: '0', log: '0' });
    const st = await callJson('GET', `/v1/sandboxes/${lb.id}/status`, { key: b.key });
    expect(st.body).toMatchObject({ clean: true, branch: lb.agent_branch, untracked: [], modified: [], staged: [] });
    await call('DELETE', `/v1/sandboxes/${lb.id}`, { key: b.key });
  });
});
