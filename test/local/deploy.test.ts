// The deploy pipeline without deploying: each environment in wrangler.toml resolves as intended
// (Smart Placement, source maps, its own Durable Objects, secrets and every var), and
// `wrangler deploy --dry-run` builds it without warnings, with a source map, within the bundle budget.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { unstable_readConfig } from 'wrangler';
import { afterAll, describe, expect, it } from 'vitest';

const pexec = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const configPath = path.join(root, 'wrangler.toml');
const ENVS = ['staging', 'production'] as const;
type Binding = { name: string; class_name: string };
const bindingNames = (bs: Binding[]) => bs.map((b) => `${b.name}=${b.class_name}`).sort();
/** The bundle budget: gzip size of the uploaded Worker (Workers Free allows 3 MiB, Paid 10 MiB). */
const GZIP_BUDGET = 1024 * 1024;
const outdirs: string[] = [];

afterAll(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true });
});

describe('wrangler environments', () => {
  const top = unstable_readConfig({ config: configPath });

  for (const env of ENVS) {
    it(`${env}: its own Worker with Smart Placement, uploaded source maps, the Durable Objects, secrets and every var`, () => {
      const c = unstable_readConfig({ config: configPath, env });
      expect(c.name).toBe(`git-sandbox-${env}`);
      expect(c.placement?.mode).toBe('smart');
      expect(c.upload_source_maps).toBe(true);
      expect(bindingNames(c.durable_objects.bindings)).toEqual(bindingNames(top.durable_objects.bindings));
      expect(c.secrets?.required?.slice().sort()).toEqual(top.secrets?.required?.slice().sort());
      expect(Object.keys(c.vars).sort()).toEqual(Object.keys(top.vars).sort());
      expect(c.triggers.crons).toEqual(top.triggers.crons);
      expect(c.observability?.enabled).toBe(true);
    });
  }

  it('keeps the top level (local dev and tests) on the same Durable Objects with the MetricsHub and MemberScrubber migrated', () => {
    expect(bindingNames(top.durable_objects.bindings)).toEqual(['MEMBER_SCRUBBER=MemberScrubber', 'METRICS_HUB=MetricsHub', 'POOL_COORDINATOR=PoolCoordinator', 'REPO_LOCK=RepoLock']);
    expect(top.migrations.flatMap((m: { new_sqlite_classes?: string[] }) => m.new_sqlite_classes ?? []).sort()).toEqual(['MemberScrubber', 'MetricsHub', 'PoolCoordinator', 'RepoLock']);
  });
});

describe('wrangler deploy --dry-run', () => {
  for (const env of ENVS) {
    it(`${env}: builds without warnings, with a source map, gzip within ${GZIP_BUDGET / 1024} KiB`, async () => {
      const outdir = mkdtempSync(path.join(tmpdir(), `dry-run-${env}-`));
      outdirs.push(outdir);
      const r = await pexec('npx', ['wrangler', 'deploy', '--dry-run', '--env', env, '--outdir', outdir], {
        cwd: root,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' },
        maxBuffer: 16 * 1024 * 1024,
      });
      const out = `${r.stdout}${r.stderr}`;
      expect(out).toContain('--dry-run: exiting now.');
      expect(out).not.toMatch(/WARNING|ERROR/);
      const bundle = readFileSync(path.join(outdir, 'worker.js'));
      expect(existsSync(path.join(outdir, 'worker.js.map'))).toBe(true);
      const gzip = gzipSync(bundle, { level: 9 }).length;
      console.info(`${env} bundle: ${(bundle.length / 1024).toFixed(0)} KiB raw, ${(gzip / 1024).toFixed(0)} KiB gzip (budget ${GZIP_BUDGET / 1024} KiB)`);
      expect(gzip).toBeLessThanOrEqual(GZIP_BUDGET);
    });
  }
});
