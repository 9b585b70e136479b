/**
 * loadtest/scan.js's traffic without k6: the public merchant page at its default arrival rate
 * (200/s, an open model) through the Deno edge, judged by scan.js's own thresholds (p95 < 50 ms,
 * failures < 0.1 %, X-Cache HIT > 95 %). The k6 run itself is `npm run loadtest:local`.
 */
import { type BenchContext, log, settings, summary } from '../lib/context.ts'
import { autocannonRun, type LoadResult } from '../lib/load.ts'
import type { Setup } from './setup.ts'

export const SCAN_RATE = 200
const SCAN_CONNS = 50

export async function scanAtRate(
  ctx: BenchContext,
  setup: Setup,
): Promise<LoadResult & { hitShare: number }> {
  const url = `${ctx.stack.edges.deno.url}/api/merchants/${setup.merchantId}`
  // Counted by the edge, not from the answers: requests still in flight when the run stops are served all the same.
  const stats = async () =>
    (
      (await (await fetch(`${ctx.stack.edges.deno.url}/health`)).json()) as {
        cache: { hits: number; misses: number }
      }
    ).cache
  const before = await stats()
  log(
    `scan.js's rate: GET /api/merchants/${setup.merchantId} at ${SCAN_RATE}/s through Deno, ${settings.seconds}s`,
  )
  const run = await ctx.measured('edge deno: scan at 200/s', () =>
    autocannonRun({ url, connections: SCAN_CONNS, durationS: settings.seconds, overallRate: SCAN_RATE }),
  )
  const after = await stats()
  const hits = after.hits - before.hits
  const lookups = hits + after.misses - before.misses
  const hitShare = lookups ? Math.round((hits / lookups) * 1000) / 1000 : 0
  log(`scan.js's rate: ${summary(run)}; HIT share ${hitShare}`)
  return { ...run, hitShare }
}
