import { defineConfig } from 'vitest/config';

// Two projects: `vitest run` runs both, `vitest run --project unit` only the fast ones.
export default defineConfig({
  test: {
    // The whole run shares 2 cores (CI and the dev machine): at most 2 files at once across both projects.
    fileParallelism: true,
    maxWorkers: 2,
    pool: 'forks',
    projects: [
      {
        extends: true,
        // No JVM, no root, no namespace: parsers, registries, local HTTP on 127.0.0.1.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'it',
          include: ['test/it/**/*.test.ts'],
          // Integration tests start real JVMs in namespaces: generous, but bounded.
          testTimeout: 120_000,
          hookTimeout: 240_000,
          // Files run in parallel; tests inside a file share their JVMs.
          fileParallelism: true,
          maxWorkers: 2,
          pool: 'forks',
        },
      },
    ],
  },
});
