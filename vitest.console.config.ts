import { defineConfig } from 'vitest/config'

// `npm run test:console`: the web console in headless Chromium (playwright-core, Debian's chromium)
// against the real edge, origin, sandbox, MariaDB and Redis. Uses the edge suite's global setup,
// which builds the console.
export default defineConfig({
  test: {
    include: ['console/test/**/*.test.ts'],
    globalSetup: ['edge/test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
