/**
 * The production Worker, built offline by `wrangler deploy --dry-run`, stays within the edge's own
 * budget of 64 KiB gzipped. Cloudflare's limit is 3 MB (Workers Free) or 10 MB (Paid) after
 * compression; the budget is far tighter so a heavy dependency (a whole validation library with
 * its locales, say) shows up here the day it is imported.
 */
import { expect, it } from 'vitest'
import { measureWorkerBundle, WORKER_GZIP_BUDGET_BYTES } from '../../ops/worker-bundle.ts'

it('bundles the worker offline within 64 KiB gzipped', async () => {
  const { gzipBytes } = await measureWorkerBundle()
  expect(gzipBytes).toBeLessThanOrEqual(WORKER_GZIP_BUDGET_BYTES)
}, 90_000)
