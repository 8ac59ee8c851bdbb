import { describe, expect, expectTypeOf, it } from 'vitest';
import * as C from '../../src/contract.ts';
import type { FileStat, GitStatus } from '../../src/git/status.ts';
import { createLogger } from '../../src/lib/log.ts';
import { toolResult } from '../../src/mcp/results.ts';
import type { ExecResult } from '../../src/services/files.ts';
import type { LeaseView } from '../../src/services/leases.ts';

describe('the wire contract', () => {
  it('types the services\' answers exactly as the schemas describe them', () => {
    expectTypeOf<GitStatus>().toEqualTypeOf<C.Status>();
    expectTypeOf<FileStat>().toEqualTypeOf<C.FileStat>();
    expectTypeOf<LeaseView>().toEqualTypeOf<C.Lease>();
    expectTypeOf<ExecResult>().toEqualTypeOf<C.ExecResult>();
  });

  it('keeps every field of a diff over MCP, binary included', async () => {
    const diff: C.Diff = { diff: '', files: [{ path: 'img.png', additions: 0, deletions: 0, binary: true }], truncated: false };
    const r = await toolResult(createLogger('error', []), 'git_diff', C.Diff, async () => diff, () => '');
    expect(r.structuredContent).toEqual(diff);
  });

  it('keeps a lease\'s freshness over MCP', async () => {
    const lease: C.Lease = {
      id: 'sbx_0123456789abcdef01234567', agent_id: 'a', task_id: 't', repo_url: 'https://h/o/r.git', branch: 'main', agent_branch: 'agent/a/t',
      status: 'active', workdir: '/home/user/repo', created_at: '2026-01-01T00:00:00.000Z', expires_at: '2026-01-01T01:00:00.000Z',
      lease_source: 'warm', mode: 'pooled', base_commit: 'a'.repeat(40), fetched_at: '2026-01-01T00:00:00.000Z',
    };
    const r = await toolResult(createLogger('error', []), 'git_clone', C.Lease, async () => lease, () => '');
    expect(r.structuredContent).toEqual(lease);
  });
});
