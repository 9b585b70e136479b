/**
 * Builds the Worker the way `wrangler deploy` would, offline (`--dry-run --outdir`), and reports its
 * size raw and gzipped. Cloudflare's limit applies after compression, so the gzipped size is the
 * one the edge's budget (edge/test/bundle.test.ts, `npm run bench`) is about.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { buildConsole } from './build-console.ts'

/** The edge's own budget, about a fiftieth of Workers Free's 3 MB: an isolate is fetched and parsed cold, so smaller starts faster. */
export const WORKER_GZIP_BUDGET_BYTES = 64 * 1024

export async function measureWorkerBundle(): Promise<{ rawBytes: number; gzipBytes: number }> {
  // wrangler.toml's [assets] directory must exist, as for a real deploy.
  await buildConsole()
  const outdir = mkdtempSync(join(tmpdir(), 'edge-bundle-'))
  try {
    await promisify(execFile)('node_modules/.bin/wrangler', ['deploy', '--dry-run', '--outdir', outdir], {
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
      timeout: 60_000,
    })
    const bundle = readFileSync(join(outdir, 'worker.js'))
    return { rawBytes: bundle.length, gzipBytes: gzipSync(bundle, { level: 9 }).length }
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}
