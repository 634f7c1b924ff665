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
    // One retry: in one fresh-clone CI run (1 of 5 runs seen) the corrupt-file test's pre-flight
    // panel never appeared within 30 s, and the same clone passed on the next run. The cause is
    // not found yet (open question in the closing note); a retry keeps CI honest about real
    // failures, which fail twice.
    retry: 1,
    pool: 'forks',
  },
});
