/**
 * The floors the targets are ratios against: the award's SQL alone (and the hot-row design not
 * taken), the origin's bare /health, and a bare Hono app's start-up and memory.
 */
import { freePort, waitForHttp } from '../../test/harness/ports.ts'
import { AWARD_CONNS, type BenchContext, EDGE_CONNS, log, RULE, settings, summary } from '../lib/context.ts'
import { autocannonRun } from '../lib/load.ts'
import { memoryOf, startChild } from '../lib/procs.ts'
import { closeLeftoverFloorOrders, type FloorPlan, prepareFloor, runFloor } from '../lib/sql-floor.ts'

const FLOOR_USERS = 1024

export async function sqlFloors(ctx: BenchContext, merchantId: string, tag: string) {
  const plan: FloorPlan = {
    databaseUrl: ctx.stack.databaseUrl,
    merchantId: Number(merchantId),
    rule: RULE,
    users: FLOOR_USERS,
    orders: Math.max(10_000, Math.ceil(settings.seconds * 3000)),
    amountFen: 1000,
    tag,
  }
  log(`floor (a): preparing 2 × ${plan.orders} orders for ${plan.users} users in SQL`)
  const { issuanceAccountId } = await prepareFloor(plan)
  log(`floor (a): raw mysql2 award transaction, ${AWARD_CONNS} clients, ${settings.seconds}s`)
  const sqlFloor = await ctx.measured(
    'floor: raw SQL award',
    () => runFloor(plan, issuanceAccountId, AWARD_CONNS, settings.seconds),
    { watchDb: true },
  )
  log(
    `floor (a): ${sqlFloor.tps}/s, p50 ${sqlFloor.latencyMs.p50} p99 ${sqlFloor.latencyMs.p99} ms, errors ${sqlFloor.errors}${sqlFloor.exhausted ? ' (ran out of orders)' : ''}`,
  )
  log(
    `hot-row comparison: the same transaction + one merchant-wide row update, ${AWARD_CONNS} clients, ${settings.seconds}s`,
  )
  const hotRowFloor = await ctx.measured(
    'comparison: raw SQL award + merchant row',
    () => runFloor(plan, issuanceAccountId, AWARD_CONNS, settings.seconds, true),
    { watchDb: true },
  )
  log(
    `hot-row comparison: ${hotRowFloor.tps}/s (${Math.round((hotRowFloor.tps / sqlFloor.tps) * 100)} % of the per-user floor), p50 ${hotRowFloor.latencyMs.p50} p99 ${hotRowFloor.latencyMs.p99} ms`,
  )
  await closeLeftoverFloorOrders(plan)
  return { sqlFloor, hotRowFloor, issuanceAccountId }
}

export async function healthFloor(ctx: BenchContext) {
  log(`floor (b): origin GET /health, autocannon ${EDGE_CONNS} connections, ${settings.seconds}s`)
  const result = await ctx.measured('floor: origin /health', () =>
    autocannonRun({
      url: `${ctx.stack.origin.url}/health`,
      connections: EDGE_CONNS,
      durationS: settings.seconds,
    }),
  )
  log(`floor (b): ${summary(result)}`)
  return result
}

/** Spawn → first 200 for a bare Hono app through tsx, and its RSS: the floor for the origin's start and memory. */
export async function bareStartup(): Promise<{ readyMs: number; rssMiB: number; durationS: number }> {
  const port = await freePort()
  const started = performance.now()
  const child = startChild(
    'bare-hono',
    process.execPath,
    ['--import', 'tsx', 'bench/children/bare-hono.ts'],
    {
      ...process.env,
      PORT: String(port),
    },
  )
  try {
    await waitForHttp(`http://127.0.0.1:${port}/health`, 30_000, 10)
    const readyMs = Math.round(performance.now() - started)
    return { readyMs, rssMiB: memoryOf(child.pid)?.rssMiB ?? Number.NaN, durationS: readyMs / 1000 }
  } finally {
    await child.stop()
  }
}
