import { describe, expect, it } from 'vitest';
import { pkt, ProtocolError, readCommands, refusalReport } from '../../src/gateway/pkt-line.ts';
import { decidePush, refusal, type PushPrincipal } from '../../src/gateway/ref-rules.ts';

const Z = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const agent: PushPrincipal = { kind: 'lease', agentId: 'alice', leaseId: 'sbx_1', baseBranch: 'main' };
const lander: PushPrincipal = { kind: 'lander', agentId: '@lander', leaseId: 'sbx_2', baseBranch: 'main', fenceValid: true };

function stream(...parts: (string | Uint8Array)[]): ReadableStreamDefaultReader<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(typeof p === 'string' ? enc.encode(p) : p);
      c.close();
    },
  }).getReader();
}

describe('receive-pack command parsing', () => {
  it('reads commands split across chunks and keeps every byte it read for forwarding', async () => {
    const first = pkt(`${A} ${B} refs/heads/agent/alice/x\0report-status side-band-64k\n`);
    const second = pkt(`${Z} ${B} refs/tags/v1\n`);
    const all = new Uint8Array([...first, ...second, ...new TextEncoder().encode('0000PACKdata')]);
    const r = await readCommands(stream(all.slice(0, 7), all.slice(7, 90), all.slice(90)));
    expect(r.commands).toEqual([
      { oldOid: A, newOid: B, ref: 'refs/heads/agent/alice/x' },
      { oldOid: Z, newOid: B, ref: 'refs/tags/v1' },
    ]);
    expect(r.capabilities).toEqual(['report-status', 'side-band-64k']);
    expect(new TextDecoder().decode(r.head)).toContain('PACK');
  });
  it('refuses signed pushes and malformed commands instead of guessing', async () => {
    await expect(readCommands(stream(pkt('push-cert\0report-status\n'), '0000'))).rejects.toBeInstanceOf(ProtocolError);
    await expect(readCommands(stream(pkt('not a command\n'), '0000'))).rejects.toBeInstanceOf(ProtocolError);
    await expect(readCommands(stream('00'))).rejects.toBeInstanceOf(ProtocolError);
  });
  it('reports refusals in git\'s own protocol, inside side-band 1 when asked', () => {
    const plain = new TextDecoder().decode(refusalReport([{ ref: 'refs/heads/main', reason: 'no' }], ['report-status']));
    expect(plain).toBe('000eunpack ok\n001ang refs/heads/main no\n0000');
    const banded = refusalReport([{ ref: 'refs/heads/main', reason: 'no' }], ['side-band-64k']);
    expect(banded[4]).toBe(1);
  });
});

describe('ref rules', () => {
  it('lets an agent write only its own namespace and create or delete its own queue refs', () => {
    expect(refusal(agent, { oldOid: Z, newOid: A, ref: 'refs/heads/agent/alice/task' })).toBeNull();
    expect(refusal(agent, { oldOid: A, newOid: Z, ref: 'refs/heads/agent/alice/task' })).toBeNull();
    expect(refusal(agent, { oldOid: Z, newOid: A, ref: 'refs/git-sandbox/queue/sbx_1-abcd' })).toBeNull();
    expect(refusal(agent, { oldOid: A, newOid: B, ref: 'refs/git-sandbox/queue/sbx_1-abcd' })).toMatch(/never moved/);
  });
  it('refuses an agent the base branch, tags, other agents\' branches, other leases\' queue refs and replace refs', () => {
    expect(refusal(agent, { oldOid: A, newOid: B, ref: 'refs/heads/main' })).toMatch(/base branch/);
    expect(refusal(agent, { oldOid: A, newOid: Z, ref: 'refs/heads/main' })).toMatch(/base branch/);
    expect(refusal(agent, { oldOid: Z, newOid: A, ref: 'refs/tags/v1' })).toMatch(/tags/);
    expect(refusal(agent, { oldOid: Z, newOid: A, ref: 'refs/heads/agent/alicex/task' })).toMatch(/namespace/);
    expect(refusal(agent, { oldOid: Z, newOid: A, ref: 'refs/heads/agent/alice/' })).toMatch(/namespace/);
    expect(refusal(agent, { oldOid: Z, newOid: A, ref: 'refs/git-sandbox/queue/sbx_9-abcd' })).not.toBeNull();
    expect(refusal(agent, { oldOid: Z, newOid: A, ref: 'refs/replace/abc' })).not.toBeNull();
  });
  it('lets a lander move the base only with the current fencing token, and never create or delete it', () => {
    expect(refusal(lander, { oldOid: A, newOid: B, ref: 'refs/heads/main' })).toBeNull();
    expect(refusal({ ...lander, fenceValid: false }, { oldOid: A, newOid: B, ref: 'refs/heads/main' })).toMatch(/stale fencing token/);
    expect(refusal(lander, { oldOid: A, newOid: Z, ref: 'refs/heads/main' })).not.toBeNull();
    expect(refusal(lander, { oldOid: A, newOid: Z, ref: 'refs/git-sandbox/queue/sbx_1-x' })).toBeNull();
    expect(refusal(lander, { oldOid: Z, newOid: A, ref: 'refs/heads/agent/alice/x' })).not.toBeNull();
  });
  it('refuses a whole push when one of its commands is refused', () => {
    const r = decidePush(agent, [
      { oldOid: Z, newOid: A, ref: 'refs/heads/agent/alice/ok' },
      { oldOid: A, newOid: B, ref: 'refs/heads/main' },
    ]);
    expect(r.map((x) => x.ref)).toEqual(['refs/heads/agent/alice/ok', 'refs/heads/main']);
    expect(r[0].reason).toMatch(/another ref/);
    expect(decidePush(agent, [{ oldOid: Z, newOid: A, ref: 'refs/heads/agent/alice/ok' }])).toEqual([]);
  });
});
