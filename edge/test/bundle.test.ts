/**
 * `wrangler deploy --dry-run` builds the production bundle offline. Workers accept 3 MB (Free) or
 * 10 MB (Paid) after compression; keeping the raw bundle under 1 MiB leaves room on either plan.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const MAX_BUNDLE_BYTES = 1024 * 1024

it('bundles the worker offline under 1 MiB', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'edge-bundle-'))
  try {
    await promisify(execFile)('node_modules/.bin/wrangler', ['deploy', '--dry-run', '--outdir', outdir], {
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
      timeout: 60_000,
    })
    expect(statSync(join(outdir, 'worker.js')).size).toBeLessThan(MAX_BUNDLE_BYTES)
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}, 90_000)
