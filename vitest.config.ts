import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // Inference tests start worker threads with ONNX sessions; a background training job
    // shares the cores, so give them room.
    testTimeout: 30_000,
    pool: 'forks',
  },
});
