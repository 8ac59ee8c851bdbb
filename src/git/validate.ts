// Input validation for git: ref names (git check-ref-format rules), repo URLs and repo-relative paths.
import { AppError } from '../errors.ts';

/** True when `s` holds no control character (below 0x20, or DEL); with `text`, newline and tab are allowed. */
export function hasNoControl(s: string, text = false): boolean {
  // biome-ignore lint: control characters are exactly what is being looked for.
  return !(text ? /[\x00-\x08\x0b-\x1f\x7f]/ : /[\x00-\x1f\x7f]/).test(s);
}

/** The reason given for a string field holding a control character. */
export const NO_CONTROL = 'must not contain control characters';

/** The reason given for a text field (a commit message) holding a control character other than newline or tab. */
export const NO_CONTROL_TEXT = 'must not contain control characters other than newline and tab';

/**
 * Throws INVALID_REF unless `name` is a branch name: git's check-ref-format rules for refs/heads/<name>,
 * and no name git would read as something else (HEAD and other pseudo-refs, a full ref, a commit id).
 */
export function assertBranchName(name: string, field = 'branch'): string {
  const bad = (why: string) => new AppError('INVALID_REF', `${field} "${name.slice(0, 100).replace(/[\x00-\x1f\x7f]/g, '?')}" is not a valid branch name: ${why}`, { details: { field } });
  if (!name || name.length > 200) throw bad('length must be 1..200');
  if (name === '@' || name.startsWith('@') || name.endsWith('@')) throw bad('must not start or end with "@"');
  if (/^[A-Z_]*HEAD$/.test(name)) throw bad(`"${name}" names a git pseudo-ref, not a branch`);
  if (name.startsWith('refs/') || name === 'refs') throw bad('give the branch name itself, not a ref (no "refs/" prefix)');
  if (/^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(name)) throw bad('looks like a commit id');
  if (name.startsWith('-')) throw bad('must not start with "-"');
  if (name.startsWith('/') || name.endsWith('/')) throw bad('must not start or end with "/"');
  if (name.endsWith('.')) throw bad('must not end with "."');
  if (name.includes('..')) throw bad('must not contain ".."');
  if (name.includes('//')) throw bad('must not contain "//"');
  if (name.includes('@{')) throw bad('must not contain "@{"');
  // biome-ignore lint: control characters are exactly what is being rejected.
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) throw bad('must not contain spaces, control characters or any of ~^:?*[\\');
  for (const part of name.split('/')) {
    if (part.startsWith('.')) throw bad('no component may start with "."');
    if (part.endsWith('.lock')) throw bad('no component may end with ".lock"');
  }
  return name;
}

/** A parsed, normalised repository URL. */
export interface RepoUrl {
  url: string;
  protocol: 'https:' | 'http:';
  host: string; // host[:port], lower case
  path: string; // owner/name without .git
  key: string; // host/path, used for affinity and lock names
}

/** Parses an http(s) repository URL; credentials, query strings and fragments are refused. */
export function parseRepoUrl(raw: string): RepoUrl {
  // The URL parser drops tabs and newlines silently; a URL holding one is refused instead.
  if (!hasNoControl(raw)) throw new AppError('BAD_REQUEST', `repo_url ${NO_CONTROL}`, { details: { field: 'repo_url' } });
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new AppError('BAD_REQUEST', 'repo_url must be an absolute http(s) URL', { details: { field: 'repo_url' } });
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new AppError('BAD_REQUEST', 'repo_url must use https (or http)', { details: { field: 'repo_url' } });
  }
  if (u.username || u.password) {
    throw new AppError('BAD_REQUEST', 'repo_url must not contain credentials; the service supplies GIT_TOKEN itself', { details: { field: 'repo_url' } });
  }
  if (u.search || u.hash) throw new AppError('BAD_REQUEST', 'repo_url must not have a query or fragment', { details: { field: 'repo_url' } });
  const path = decodeURIComponent(u.pathname).replace(/^\/+/, '').replace(/\/+$/, '').replace(/\.git$/, '');
  if (!path || path.split('/').some((s) => !s || s === '.' || s === '..' || !/^[A-Za-z0-9._-]+$/.test(s))) {
    throw new AppError('BAD_REQUEST', 'repo_url path must be like /owner/name(.git)', { details: { field: 'repo_url' } });
  }
  const host = u.host.toLowerCase();
  return { url: `${u.protocol}//${host}/${path}.git`, protocol: u.protocol, host, path, key: `${host}/${path}` };
}

/** True when the repo matches one of the comma-separated ALLOWED_REPOS patterns (host[:port]/glob, or "*"). */
export function repoAllowed(repo: RepoUrl, patterns: string): boolean {
  for (const raw of patterns.split(',')) {
    const p = raw.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\.git$/, '');
    if (!p) continue;
    if (p === '*') return true;
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
    // "host/*" also admits nested paths like host/owner/name.
    const deep = p.endsWith('/*') ? new RegExp(`^${p.slice(0, -1).replace(/[.+?^${}()|[\]\\*]/g, '\\$&')}.+$`) : null;
    if (re.test(repo.key) || deep?.test(repo.key)) return true;
  }
  return false;
}

/** Validates a repo-relative file path: no absolute paths, traversal, .git, or control characters. */
export function assertRepoPath(raw: string): string {
  const bad = (why: string) => new AppError('INVALID_PATH', `path "${raw.slice(0, 200).replace(/[\x00-\x1f\x7f]/g, '?')}" is not allowed: ${why}`, { details: { field: 'path' } });
  if (!raw || raw.length > 1024) throw bad('length must be 1..1024');
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw bad('must be relative to the repository root');
  // biome-ignore lint: control characters are exactly what is being rejected.
  if (/[\x00-\x1f\x7f\\]/.test(raw)) throw bad('must not contain control characters or backslashes');
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0) throw bad('names no file');
  if (parts.some((p) => p === '..')) throw bad('must not contain ".."');
  if (parts[0] === '.git' || parts.some((p) => p === '.git')) throw bad('must not touch .git');
  return parts.join('/');
}
