// Three test projects: pure unit tests (Node), the embedded stack's own tests (Node, real
// processes), and Worker integration tests inside workerd against the embedded stack.
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { freePort } from './local/free-port.ts';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'local',
          include: ['test/local/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          // One runtime per test file, each with its own loopback port for the Worker's fetch handler,
          // so sandboxes' git reaches that file's Worker (its git gateway) at PUBLIC_URL.
          cloudflareTest(async ({ inject }) => {
            const port = await freePort();
            return {
              wrangler: { configPath: './wrangler.toml' },
              miniflare: {
                bindings: { ...inject('workerBindings'), PUBLIC_URL: `http://127.0.0.1:${port}` },
                unsafeDirectSockets: [{ host: '127.0.0.1', port }],
              },
            };
          }),
        ],
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
