import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real JVMs in namespaces: generous, but bounded.
    testTimeout: 120_000,
    hookTimeout: 240_000,
    // Files run in parallel (2 cores in CI); tests inside a file share their JVMs.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
  },
});
