// Worker entry: wires the Hono app, the Cron Triggers and the Durable Object classes.
import { runCron } from './cron/jobs.ts';
import { createApp } from './routes/app.ts';
import { createServiceContext } from './services/context.ts';

export { PoolCoordinator } from './durable/pool-coordinator.ts';
export { RepoLock } from './durable/repo-lock.ts';
export { MetricsHub } from './durable/metrics-hub.ts';
export { MemberScrubber } from './durable/member-scrubber.ts';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    const svc = createServiceContext(env, (p) => ctx.waitUntil(p));
    const t0 = Date.now();
    try {
      const result = await runCron(svc, controller.cron);
      svc.log.info('cron_done', { cron: controller.cron, duration_ms: Date.now() - t0, ...result });
    } catch (e) {
      svc.log.error('cron_failed', { cron: controller.cron, error: e instanceof Error ? e.message : String(e) });
      throw e;
    } finally {
      await svc.close();
    }
  },
} satisfies ExportedHandler<Env>;
