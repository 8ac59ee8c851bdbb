// Text renderings of tool results: what a model reads next to the structured content. Short
// summaries, except where the text is the payload (a diff, a file, command output).
import type * as C from '../contract.ts';

/** A lease. */
export function lease(l: C.Lease): string {
  if (l.status === 'initializing') return `Lease ${l.id} is initializing: ${l.repo_url} is still being cloned in the background. Call sandbox_get with id "${l.id}" until its status is ready (or error, with the reason).`;
  if (l.error) return `Lease ${l.id} failed: ${l.error.code}: ${l.error.message}`;
  return `Lease ${l.id} ready: ${l.repo_url} at ${l.branch}, your branch ${l.agent_branch} is checked out in ${l.workdir} (${l.lease_source}, expires ${l.expires_at}). Pass id "${l.id}" to the other tools.`;
}

/** The caller's leases. */
export function leases(r: C.LeaseList): string {
  if (!r.sandboxes.length) return 'No active leases.';
  const lines = r.sandboxes.map((l) => `${l.id}  ${l.repo_url}  ${l.branch} <- ${l.agent_branch}  ${l.status}  expires ${l.expires_at}`);
  return `${r.sandboxes.length} active lease(s):\n${lines.join('\n')}`;
}

/** A parsed git status. */
export function status(s: C.Status): string {
  const head = `On ${s.branch ?? '(detached HEAD)'}${s.upstream ? ` tracking ${s.upstream}` : ''}, ahead ${s.ahead}, behind ${s.behind}.`;
  if (s.clean) return `${head} Working tree clean.`;
  const parts = (['staged', 'modified', 'untracked', 'conflicted'] as const).filter((k) => s[k].length).map((k) => `${k}: ${s[k].join(', ')}`);
  return `${head}\n${parts.join('\n')}`;
}

/** A diff: a file summary, then the diff text itself. */
export function diff(d: C.Diff): string {
  if (!d.files.length && !d.diff) return 'No differences.';
  const files = d.files.map((f) => `${f.path} +${f.additions} -${f.deletions}`).join(', ');
  return `${d.files.length} file(s) changed: ${files}${d.truncated ? ' (diff truncated at max_bytes)' : ''}\n\n${d.diff}`;
}

/** A pull. */
export function pull(p: C.PullResult): string {
  return p.updated ? `Rebased: HEAD moved from ${p.previous_head.slice(0, 12)} to ${p.head.slice(0, 12)}.` : `Already up to date at ${p.head.slice(0, 12)}.`;
}

/** A push. */
export function push(p: C.PushResult): string {
  const notes = [p.committed ? 'new commit' : 'no new changes to commit', p.rebased ? 'rebased onto the latest tip' : '', p.attempts > 1 ? `${p.attempts} attempts` : ''].filter(Boolean);
  const how = p.strategy && p.strategy !== 'rebase' && !p.pull_request ? ` as a ${p.strategy}` : '';
  const pr = p.pull_request ? ` Pull request #${p.pull_request.number} is ${p.pull_request.state}${p.pull_request.auto_merge ? ' (auto-merge enabled)' : ''}: ${p.pull_request.url}${p.pull_request.note ? `; ${p.pull_request.note}` : ''}` : '';
  return `Pushed ${p.commit.slice(0, 12)} to ${p.target_branch}${how} (${notes.join(', ')}).${pr}`;
}

/** A file read: the content itself when it is text. */
export function file(f: C.FileContent): string {
  return f.encoding === 'utf-8' ? f.content : `${f.path} is binary (${f.bytes} bytes); base64 content:\n${f.content}`;
}

/** Command output. */
export function exec(r: C.ExecResult): string {
  const flags = [r.timed_out ? 'timed out' : '', r.truncated ? 'output truncated' : ''].filter(Boolean);
  let text = `exit code ${r.exit_code}${flags.length ? ` (${flags.join(', ')})` : ''}`;
  if (r.stdout) text += `\n--- stdout ---\n${r.stdout}`;
  if (r.stderr) text += `\n--- stderr ---\n${r.stderr}`;
  return text;
}
