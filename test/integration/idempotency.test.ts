// Idempotency-Key on lease creation: a replay gets the same lease; the key reused with another body
// is refused (422) instead of silently answering with the first lease.
import { describe, expect, it } from 'vitest';
import { call, callJson, newAgent, stack } from './helpers.ts';

describe('Idempotency-Key on POST /v1/sandboxes', () => {
  it('answers 422 IDEMPOTENCY_MISMATCH when the same key comes with another body, and the first lease for a replay', async () => {
    const { key } = await newAgent('idem');
    const headers = { 'idempotency-key': `k-${crypto.randomUUID()}` };
    const first = await callJson('POST', '/v1/sandboxes', { key, headers, body: { repo_url: stack.demo_repo_url, task_id: 'one' } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const replay = await callJson('POST', '/v1/sandboxes', { key, headers, body: { repo_url: stack.demo_repo_url, task_id: 'one' } });
    expect(replay.body.id).toBe(first.body.id);
    const other = await callJson('POST', '/v1/sandboxes', { key, headers, body: { repo_url: stack.demo_repo_url, task_id: 'two' } });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_MISMATCH');
    expect((await callJson('GET', '/v1/sandboxes', { key })).body.sandboxes).toHaveLength(1);
    await call('DELETE', `/v1/sandboxes/${first.body.id}`, { key });
  });
});
