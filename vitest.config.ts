import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['{shared,origin,sandbox,ops,test}/**/*.test.ts'],
    // The slow operations tests run with `npm run test:ops` (vitest.ops.config.ts).
    exclude: [...configDefaults.exclude, 'test/ops/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
