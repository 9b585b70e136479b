/**
 * The edge, on Deno (judged) and in workerd (reported beside): its bare /health, the cached
 * merchant page, and the authenticated balance read it forwards to the origin; and the same read
 * sent straight to the origin, edge-signed by the load generator, which the edge read is compared with.
 * Both authenticated reads use the same generator (node:http, closed loop), so the ratio compares paths.
 */
import { signedSpec } from '../lib/api.ts'
import { type BenchContext, EDGE_CONNS, log, settings, summary } from '../lib/context.ts'
import { autocannonRun, closedLoop, type LoadResult } from '../lib/load.ts'
import type { Setup } from './setup.ts'

export const RUNTIMES = ['deno', 'workerd'] as const
export type Runtime = (typeof RUNTIMES)[number]

export interface EdgeRuntimeResult {
  health: LoadResult
  cached: LoadResult & { cacheHits: number; cacheMisses: number }
  balance: LoadResult
}

const BALANCE = '/api/points/balance'

export async function directSignedRead(ctx: BenchContext, setup: Setup): Promise<LoadResult> {
  const reader = setup.shoppers[0]!
  log(`origin: GET ${BALANCE}, edge-signed by the generator, ${EDGE_CONNS} connections, ${settings.seconds}s`)
  const run = await ctx.measured('origin: balance, signed, direct', () =>
    closedLoop({
      baseUrl: ctx.stack.origin.url,
      connections: EDGE_CONNS,
      durationS: settings.seconds,
      next: () => signedSpec(ctx.signer, 'GET', BALANCE, { token: reader.token }),
    }),
  )
  log(`origin: balance direct ${summary(run)}`)
  return run
}

export async function edgeRuntime(
  ctx: BenchContext,
  setup: Setup,
  runtime: Runtime,
): Promise<EdgeRuntimeResult> {
  const url = ctx.stack.edges[runtime].url
  const reader = setup.shoppers[0]!
  log(`edge ${runtime}: bare GET /health (floor), ${EDGE_CONNS} connections, ${settings.seconds}s`)
  const health = await ctx.measured(`edge ${runtime}: /health`, () =>
    autocannonRun({ url: `${url}/health`, connections: EDGE_CONNS, durationS: settings.seconds }),
  )
  log(`edge ${runtime}: /health ${summary(health)}`)

  const merchantUrl = `${url}/api/merchants/${setup.merchantId}`
  const first = await fetch(merchantUrl)
  await first.arrayBuffer()
  const second = await fetch(merchantUrl)
  await second.arrayBuffer()
  const statsBefore = await cacheStats(url)
  log(
    `edge ${runtime}: cached GET /api/merchants/${setup.merchantId} (warm: ${first.headers.get('x-cache')} then ${second.headers.get('x-cache')}), ${EDGE_CONNS} connections, ${settings.seconds}s`,
  )
  const cached = await ctx.measured(`edge ${runtime}: cached merchant`, () =>
    autocannonRun({ url: merchantUrl, connections: EDGE_CONNS, durationS: settings.seconds }),
  )
  const statsAfter = await cacheStats(url)
  const cacheHits = statsAfter.hits - statsBefore.hits
  const cacheMisses = statsAfter.misses - statsBefore.misses
  log(`edge ${runtime}: cached ${summary(cached)}; X-Cache HIT ${cacheHits}, MISS ${cacheMisses}`)

  const headers = { authorization: `Bearer ${reader.token}` }
  const check = await fetch(`${url}${BALANCE}`, { headers })
  const checkBody = await check.text()
  if (check.status !== 200) throw new Error(`edge ${runtime} balance read: ${check.status} ${checkBody}`)
  log(
    `edge ${runtime}: GET ${BALANCE} with a Bearer token → origin, ${EDGE_CONNS} connections, ${settings.seconds}s`,
  )
  const balance = await ctx.measured(`edge ${runtime}: balance via origin`, () =>
    closedLoop({
      baseUrl: url,
      connections: EDGE_CONNS,
      durationS: settings.seconds,
      next: () => ({ method: 'GET', path: BALANCE, headers }),
    }),
  )
  log(`edge ${runtime}: balance ${summary(balance)}`)
  return { health, cached: { ...cached, cacheHits, cacheMisses }, balance }
}

async function cacheStats(edgeUrl: string): Promise<{ hits: number; misses: number }> {
  const res = await fetch(`${edgeUrl}/health`)
  const body = (await res.json()) as { cache?: { hits: number; misses: number } }
  return { hits: body.cache?.hits ?? 0, misses: body.cache?.misses ?? 0 }
}
