// Argument parsing of the git-sandbox CLI: argv in, one command (or a usage error) out. No I/O.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** One parsed invocation. */
export type Command =
  | { name: 'lease'; repoUrl: string; branch?: string; task: string; agentBranch?: string; ttlS?: number; json: boolean }
  | { name: 'ls'; json: boolean }
  | { name: 'exec'; id: string; command: string; timeoutMs?: number; json: boolean }
  | { name: 'push'; id: string; message: string; base: boolean; paths?: string[]; json: boolean }
  | { name: 'release'; id: string }
  | { name: 'help' }
  | { name: 'version' };

/** The usage text. */
export const USAGE = `usage: git-sandbox <command> [options]

  lease <repo_url> [--branch B] [--task T] [--agent-branch X] [--ttl S] [--json]
        lease a sandbox with the repository cloned; prints the lease id
  ls [--json]                                 your active leases
  exec <id> [--timeout MS] [--json] -- <command…>
        run a bash command in the repository; output streams when the server supports it,
        and the exit code is the command's
  push <id> -m <message> [--base] [--path P]… [--json]
        commit and push to your agent branch (--base: land on the base branch)
  release <id>                                end the lease

environment: GIT_SANDBOX_URL (the service's URL), GIT_SANDBOX_KEY (your API key)`;

/** A usage error: what was wrong with the arguments. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const LEASE_ID = /^sbx_[0-9a-f]{24}$/;

function leaseId(v: string | undefined, command: string): string {
  if (!v) throw new UsageError(`${command}: missing the lease id (sbx_…)`);
  if (!LEASE_ID.test(v)) throw new UsageError(`${command}: "${v}" is not a lease id (sbx_ and 24 hex digits)`);
  return v;
}

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new UsageError(`${flag} must be a positive integer, not "${v}"`);
  return Number(v);
}

type Values = Record<string, string | boolean | string[] | undefined>;

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, command: string): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
}

/** Parses `argv` (without the node and script paths); throws UsageError on bad arguments. */
export function parseCommand(argv: string[], newTaskId: () => string = () => `cli-${Date.now().toString(36)}`): Command {
  const [name, ...rest] = argv;
  switch (name) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' };
    case 'version':
    case '--version':
      return { name: 'version' };
    case 'lease': {
      const a = parse(rest, { branch: { type: 'string' }, task: { type: 'string' }, 'agent-branch': { type: 'string' }, ttl: { type: 'string' }, json: { type: 'boolean' } }, name);
      const [repoUrl, extra] = a.positionals;
      if (!repoUrl) throw new UsageError('lease: missing the repository URL');
      if (extra !== undefined) throw new UsageError(`lease: unexpected argument "${extra}"`);
      const v = a.values;
      return { name, repoUrl, branch: v.branch as string | undefined, task: (v.task as string | undefined) ?? newTaskId(), agentBranch: v['agent-branch'] as string | undefined, ttlS: positiveInt(v.ttl as string | undefined, '--ttl'), json: !!v.json };
    }
    case 'ls': {
      const a = parse(rest, { json: { type: 'boolean' } }, name);
      if (a.positionals.length) throw new UsageError(`ls: unexpected argument "${a.positionals[0]}"`);
      return { name, json: !!a.values.json };
    }
    case 'exec': {
      const dash = rest.indexOf('--');
      if (dash < 0) throw new UsageError('exec: put the command after --, e.g. git-sandbox exec sbx_… -- git status');
      const command = rest.slice(dash + 1).join(' ');
      if (!command.trim()) throw new UsageError('exec: the command after -- is empty');
      const a = parse(rest.slice(0, dash), { timeout: { type: 'string' }, json: { type: 'boolean' } }, name);
      if (a.positionals.length > 1) throw new UsageError(`exec: unexpected argument "${a.positionals[1]}" (the command goes after --)`);
      return { name, id: leaseId(a.positionals[0], name), command, timeoutMs: positiveInt(a.values.timeout as string | undefined, '--timeout'), json: !!a.values.json };
    }
    case 'push': {
      const a = parse(rest, { message: { type: 'string', short: 'm' }, base: { type: 'boolean' }, path: { type: 'string', multiple: true }, json: { type: 'boolean' } }, name);
      const v = a.values as { message?: string; base?: boolean; path?: string[]; json?: boolean };
      if (!v.message) throw new UsageError('push: missing -m <message>');
      if (a.positionals.length > 1) throw new UsageError(`push: unexpected argument "${a.positionals[1]}"`);
      return { name, id: leaseId(a.positionals[0], name), message: v.message, base: !!v.base, paths: v.path, json: !!v.json };
    }
    case 'release': {
      const a = parse(rest, {}, name);
      if (a.positionals.length > 1) throw new UsageError(`release: unexpected argument "${a.positionals[1]}"`);
      return { name, id: leaseId(a.positionals[0], name) };
    }
    default:
      throw new UsageError(`unknown command "${name}" (lease, ls, exec, push, release)`);
  }
}
