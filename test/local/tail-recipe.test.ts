// The README's `wrangler tail` recipes, run verbatim with real jq on tail output: the README line
// with `npx wrangler tail --env production --format json` replaced by `cat` of the fixture.
// The fixture (test/fixtures/wrangler-tail-events.json) is shaped like wrangler 4's
// `tail --format json` output (each event pretty-printed with 4 spaces): a request, an alarm and an
// RPC of the Durable Objects, a failing cron; it is written by hand, not captured from a live
// deployment (this workplace has no network), from wrangler's printer and Workers' tail event types.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const fixture = path.join(root, 'test/fixtures/wrangler-tail-events.json');
const TAIL = 'npx wrangler tail --env production --format json';

/** The recipe lines of the README's tail block, in order. */
function recipes(): string[] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const block = /<!-- tail-recipes:start -->([\s\S]*?)<!-- tail-recipes:end -->/.exec(readme)?.[1] ?? '';
  return block.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`${TAIL} | jq `));
}

function haveJq(): boolean {
  return spawnSync('jq', ['--version']).status === 0;
}

/** Runs one recipe on the fixture with bash; each output line parsed as JSON. */
function run(recipe: string, env: Record<string, string> = {}): unknown[] {
  const cmd = recipe.replace(TAIL, `cat ${JSON.stringify(fixture)}`);
  const out = execFileSync('bash', ['-c', cmd], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('README wrangler tail recipes', () => {
  it('are in the README, three of them', () => {
    expect(recipes()).toHaveLength(3);
  });

  describe.runIf(haveJq() || !!process.env.CI)('with jq', () => {
    it('has jq in CI', () => {
      expect(haveJq(), 'jq is missing (apt-get install jq; .ci/run does this in CI)').toBe(true);
    });

    it('shows only warnings and errors, as one object per line', () => {
      const out = run(recipes()[0]) as { level: string; event: string }[];
      expect(out.map((o) => [o.level, o.event])).toEqual([
        ['warn', 'operation_record_failed'],
        ['warn', 'lock_expired'],
        ['error', 'cron_failed'],
      ]);
    });

    it("follows one request by its id and skips other requests' lines and non-object messages", () => {
      const out = run(recipes()[1], { RID: '8f1e2d3c4b5a6978-AMS' }) as { event: string; request_id: string }[];
      expect(out.map((o) => o.event)).toEqual(['operation_record_failed', 'git_op', 'request']);
      expect(new Set(out.map((o) => o.request_id))).toEqual(new Set(['8f1e2d3c4b5a6978-AMS']));
    });

    it('follows one lease across the Worker and the PoolCoordinator', () => {
      const out = run(recipes()[2], { LEASE: 'sbx_5f0c2a9e41d7b3c8a6e21f04' });
      expect(out).toEqual([
        { ts: '2026-12-03T10:00:01.502Z', level: 'warn', event: 'operation_record_failed', component: null },
        { ts: '2026-12-03T10:00:01.503Z', level: 'info', event: 'git_op', component: null },
        { ts: '2026-12-03T10:01:00.011Z', level: 'info', event: 'lease_expired', component: 'pool' },
      ]);
    });
  });

  it.skipIf(haveJq() || !!process.env.CI)('skips the jq runs: jq is not installed (apt-get install jq) and CI is unset', () => {});
});
