import { defineConfig } from 'vitest/config'

// Edge suite: unit tests under Node plus the real edge in workerd (wrangler's unstable_startWorker,
// which runs from Node) and in Deno (a child process), against a private Redis behind the bridge.
export default defineConfig({
  test: {
    include: ['edge/test/**/*.test.ts'],
    globalSetup: ['edge/test/support/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
})
