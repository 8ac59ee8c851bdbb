// The alert rules and the Grafana dashboard in ops/: promtool validates and unit-tests the rules,
// every metric they read is in the registry, and every panel's rate window is $__rate_interval.
// (The Worker integration test ops-metrics.test.ts checks the same names against a real scrape.)
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAMILIES, PREFIX } from '../../src/metrics/families.ts';
import { metricFamilies, panelExpressions, ruleExpressions } from '../support/ops-queries.ts';
import { PROMTOOL_MISSING, promtool, promtoolRequired, type PromtoolRun } from '../support/promtool.ts';

const root = path.resolve(import.meta.dirname, '../..');
const ops = path.join(root, 'ops');
const rules = readFileSync(path.join(ops, 'alerts.yml'), 'utf8');
const dashboard = readFileSync(path.join(ops, 'grafana-dashboard.json'), 'utf8');
const registered = new Set(FAMILIES.map((f) => PREFIX + f.name));

/** Runs promtool; a missing promtool fails in CI and skips (saying why) elsewhere. */
async function run(ctx: { skip: (note?: string) => void }, args: string[]): Promise<PromtoolRun> {
  const r = await promtool(args, undefined, root);
  if (r) return r;
  if (promtoolRequired()) throw new Error(`${PROMTOOL_MISSING}; CI must have it`);
  ctx.skip(`${PROMTOOL_MISSING}; skipped because CI is unset`);
  throw new Error('unreachable');
}

describe('ops/ alert rules and dashboard', () => {
  it('passes promtool check rules for every rules file in ops/', async (ctx) => {
    const files = readdirSync(ops).filter((f) => f.endsWith('.yml')).map((f) => `ops/${f}`);
    expect(files).toContain('ops/alerts.yml');
    const r = await run(ctx, ['check', 'rules', ...files]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('passes the promtool rule unit tests, the retention-purge case included', async (ctx) => {
    const tests = readFileSync(path.join(ops, 'tests/alerts.test.yml'), 'utf8');
    expect(tests).toContain('lock expiry alert stays quiet across a retention purge');
    const r = await run(ctx, ['test', 'rules', 'ops/tests/alerts.test.yml']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('reads only registered metric families in rules and panels', () => {
    const used = [...ruleExpressions(rules), ...panelExpressions(dashboard).map((p) => p.expr)].flatMap(metricFamilies);
    expect(used.length).toBeGreaterThan(20);
    expect([...new Set(used)].filter((n) => !registered.has(n))).toEqual([]);
  });

  it('uses $__rate_interval as the window of every rate and increase in the dashboard', () => {
    const windows = panelExpressions(dashboard).flatMap((p) => [...p.expr.matchAll(/\b(?:rate|irate|increase)\([^\[]*\[([^\]]+)\]/g)].map((m) => `${p.title}: ${m[1]}`));
    expect(windows.length).toBeGreaterThan(10);
    expect(windows.filter((w) => !w.endsWith(': $__rate_interval'))).toEqual([]);
  });

  it('parses every rule expression out of the rules file, block scalars included', () => {
    const exprs = ruleExpressions(rules);
    expect(exprs).toHaveLength((rules.match(/^\s*- alert:/gm) ?? []).length);
    expect(exprs.every((e) => e.includes('git_sandbox_'))).toBe(true);
  });
});
