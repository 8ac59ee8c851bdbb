// Text renderings of the workbench tools' results: what a model reads next to the structured content.
import type * as C from '../contract-read.ts';

const cutNote = (truncated: boolean, what: string) => (truncated ? `\n(${what} truncated at the output bound)` : '');

/** A log: one line per commit. */
export function log(l: C.Log): string {
  if (!l.commits.length) return 'No commits.';
  const lines = l.commits.map((c) => `${c.sha.slice(0, 12)} ${c.date.slice(0, 10)} ${c.author_name}: ${c.subject}`);
  return `${lines.join('\n')}${cutNote(l.truncated, 'log')}`;
}

/** A commit: header, message, file summary, then the diff. */
export function show(d: C.CommitDetail): string {
  const files = d.files.map((f) => `${f.path} ${f.binary ? '(binary)' : `+${f.additions} -${f.deletions}`}`).join('\n');
  const head = [
    `commit ${d.sha}`,
    d.parents.length > 1 ? `Merge: ${d.parents.map((p) => p.slice(0, 12)).join(' ')}` : '',
    `Author: ${d.author.name} <${d.author.email}> ${d.author.date}`,
    `Committer: ${d.committer.name} <${d.committer.email}> ${d.committer.date}`,
  ].filter(Boolean);
  return `${head.join('\n')}\n\n${d.message}\n\n${d.files.length} file(s) changed:\n${files}${cutNote(d.truncated, 'commit')}\n\n${d.diff}`;
}

/** A listing: one entry per line, directories with a trailing slash. */
export function files(l: C.FileList): string {
  if (!l.entries.length) return 'No files.';
  const lines = l.entries.map((e) => (e.type === 'dir' ? `${e.path}/` : e.type === 'symlink' ? `${e.path}@` : `${e.path}  ${e.size} B`));
  return `${lines.join('\n')}${cutNote(l.truncated, 'listing')}`;
}

/** Search matches as `path:line: text`. */
export function search(r: C.SearchResults): string {
  if (!r.matches.length) return 'No matches.';
  const lines = r.matches.map((m) => `${m.path}:${m.line}: ${m.text}`);
  return `${lines.join('\n')}${r.truncated ? '\n(more matches than shown; narrow the search or raise max_results)' : ''}`;
}

/** A batch write. */
export function written(w: C.FilesWritten): string {
  const parts = [w.written.length ? `wrote ${w.written.map((f) => `${f.path} (${f.bytes} B)`).join(', ')}` : '', w.deleted.length ? `deleted ${w.deleted.join(', ')}` : ''];
  return `Applied: ${parts.filter(Boolean).join('; ')}.`;
}
