import { defineConfig } from 'vitest/config';

/**
 * End-to-end tests: the real UI in real Chromium against web mode (`npm run serve`), with real
 * inference on the tiny fixture model. Kept out of the unit run (`*.e2e.ts`); `npm test` runs both.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    // Each file starts a server and a browser; the machine is shared with a training job.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
