import { defineConfig } from 'vitest/config'

// `npm run test:ops`: the origin under real PM2, Prometheus, the deploy and rollback scripts.
// Slower than the main suite, so it runs on its own (after `npm test` in .ci/run).
export default defineConfig({
  test: {
    include: ['test/ops/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 180_000,
    // Each file starts daemons and builds; one at a time keeps a 2-core machine responsive.
    fileParallelism: false,
  },
})
