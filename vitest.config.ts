import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const source = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the packages' source, so they never depend on a prior build.
    alias: [
      { find: /^@breakwater\/core\/fetch$/, replacement: source('./packages/core/src/fetch.ts') },
      { find: /^@breakwater\/core\/metrics$/, replacement: source('./packages/core/src/metrics.ts') },
      { find: /^@breakwater\/core\/tracing$/, replacement: source('./packages/core/src/tracing.ts') },
      { find: /^@breakwater\/core$/, replacement: source('./packages/core/src/index.ts') },
      { find: /^@breakwater\/testing$/, replacement: source('./packages/testing/src/index.ts') },
      { find: /^@breakwater\/express$/, replacement: source('./packages/express/src/index.ts') },
      { find: /^@breakwater\/koa$/, replacement: source('./packages/koa/src/index.ts') },
      { find: /^@breakwater\/redis$/, replacement: source('./packages/redis/src/index.ts') },
    ],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
