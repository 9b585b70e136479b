/**
 * `npx tsx bench/run.ts` (npm run bench): starts a fresh stack, measures the floors and the paths
 * the targets in DESIGN.md are about, checks the ledger afterwards, prints a table, writes
 * bench/results/<timestamp>.json and tears everything down. Exits 0 unless the stack failed;
 * PASS/FAIL lines are information. See docs/BENCHMARKS.md.
 *
 * Settings (environment): BENCH_SECONDS (10) per timed phase, BENCH_HISTORY_SECONDS (4) per history
 * size, BENCH_USERS (256) shoppers, BENCH_AWARD_ORDERS (4000) minimum orders paid by callback,
 * BENCH_POOL_SIZE (32) origin DATABASE_POOL_SIZE, BENCH_LOG_LEVEL (warn) origin LOG_LEVEL,
 * BENCH_REDIS_URL (redis://127.0.0.1:6379/4), TEST_MYSQL_URL (mysql://root@127.0.0.1:3306),
 * BENCH_PROFILE_DIR (unset: when set, the origin and the bridge write .cpuprofile files there),
 * BENCH_HEAP_SNAPSHOT_DIR (unset: when set, the origin writes a heap snapshot there after the run;
 * summarise either with bench/profile-summary.ts or bench/heap-summary.ts), BENCH_ORIGIN_NODE_ARGS
 * (extra node flags for the origin, space separated, e.g. --max-semi-space-size=8),
 * BENCH_ORIGIN_WORKERS (1: above 1 the origin runs in cluster mode, as PM2 runs it).
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { arch, cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import { createDatabase } from '../origin/db/client.ts'
import { checkLedgerInvariants } from '../origin/services/ledger.ts'
import { buildNotification } from '../sandbox/notifications.ts'
import { notificationKeys } from '../sandbox/testing.ts'
import { freePort, waitForHttp } from '../test/harness/ports.ts'
import { idemKey, mapConcurrent, originApi, type Signer, signedSpec } from './lib/api.ts'
import { type DbActivity, watchDb } from './lib/db-activity.ts'
import { explainRecordsPage, writeHistory } from './lib/history.ts'
import { autocannonRun, closedLoop, type LoadResult } from './lib/load.ts'
import { CpuMeter, descendants, memoryOf, pidsByComm, ROOT, startChild, sumMemory } from './lib/procs.ts'
import { type MeasureRow, measurementsTable, ratio, type Target, targetsTable } from './lib/report.ts'
import { checkAgainstShared } from './lib/signing.ts'
import { closeLeftoverFloorOrders, type FloorPlan, prepareFloor, runFloor } from './lib/sql-floor.ts'
import { type BenchStack, startBenchStack } from './lib/stack.ts'

const num = (name: string, fallback: number) => {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

const settings = {
  seconds: num('BENCH_SECONDS', 10),
  historySeconds: num('BENCH_HISTORY_SECONDS', 4),
  users: Math.round(num('BENCH_USERS', 256)),
  awardOrders: Math.round(num('BENCH_AWARD_ORDERS', 4000)),
  poolSize: Math.round(num('BENCH_POOL_SIZE', 32)),
  logLevel: process.env.BENCH_LOG_LEVEL || 'warn',
  redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379/4',
  mysqlServer: process.env.TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306',
  profileDir: process.env.BENCH_PROFILE_DIR || undefined,
  heapSnapshotDir: process.env.BENCH_HEAP_SNAPSHOT_DIR || undefined,
  originNodeArgs: (process.env.BENCH_ORIGIN_NODE_ARGS ?? '').split(' ').filter(Boolean),
  originWorkers: Math.round(num('BENCH_ORIGIN_WORKERS', 1)),
}

const AWARD_CONNS = 16
const ORDER_CONNS = 16
const EDGE_CONNS = 32
const HISTORY_CONNS = 8
const FLOOR_USERS = 1024
const HISTORY_SIZES = [100, 10_000, 100_000] as const
const RULE = { earnPoints: 1, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null }

const t0 = performance.now()
const loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100)
const log = (line: string) =>
  console.log(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${line}`)

let stack: BenchStack | undefined
let closing: Promise<void> | undefined
const teardown = () => {
  closing ??= (async () => {
    if (!stack) return
    log('teardown: stopping processes and dropping the database')
    await stack.close()
  })()
  return closing
}
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`${signal}: tearing down`)
    void teardown().finally(() => process.exit(130))
  })

const summary = (r: LoadResult) =>
  `${r.rps}/s over ${r.durationS}s, p50 ${r.latencyMs.p50} p95 ${r.latencyMs.p95} p99 ${r.latencyMs.p99} ms, ` +
  `non-2xx ${r.non2xx}, errors ${r.errors}`

async function main() {
  await checkAgainstShared('bench-self-check-secret')
  log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadAtStart.join(' ')} ` +
      '(other work on this machine shows up in every number)',
  )
  const tag = randomBytes(3).toString('hex')
  const startupFloor = await bareStartup()
  log(`floor: bare Hono on Node (tsx) answers in ${startupFloor.readyMs} ms, RSS ${startupFloor.rssMiB} MiB`)

  stack = await startBenchStack(
    {
      mysqlServer: settings.mysqlServer,
      redisUrl: settings.redisUrl,
      poolSize: settings.poolSize,
      logLevel: settings.logLevel,
      profileDir: settings.profileDir,
      heapSnapshotDir: settings.heapSnapshotDir,
      originNodeArgs: settings.originNodeArgs,
      originWorkers: settings.originWorkers,
    },
    log,
  )
  const s = stack
  const signer: Signer = { keyId: s.keyId, secret: s.edgeSecret }
  const api = originApi(s.origin.url, signer)
  const db = createDatabase({ url: s.databaseUrl, poolSize: 4 })
  const sql = await mysql.createConnection({ uri: s.databaseUrl, timezone: 'Z' })

  const workerdPids = descendants(s.edges.workerd.child.pid)
  // In cluster mode the origin is the primary and its workers: CPU and memory are their sums.
  const originPids = descendants(s.origin.child.pid)
  const originMemoryNow = () => sumMemory(originPids)
  const meter = new CpuMeter(() => ({
    'bench (load gen)': [process.pid],
    origin: originPids,
    mariadb: pidsByComm(['mariadbd', 'mysqld']),
    redis: pidsByComm(['redis-server']),
    bridge: [s.bridge.child.pid],
    sandbox: [s.sandboxChild.pid],
    deno: [s.edges.deno.child.pid],
    workerd: workerdPids,
  }))
  const cpu: Record<string, ReturnType<typeof CpuMeter.diff>> = {}
  const dbActivity: Record<string, DbActivity> = {}
  const originRss: Record<string, number> = {
    'after start-up': originMemoryNow().rssMiB,
  }
  const measured = async <T extends { durationS: number }>(
    name: string,
    run: () => Promise<T>,
    opts: { watchDb?: boolean } = {},
  ) => {
    const watcher = opts.watchDb ? await watchDb(settings.mysqlServer, s.databaseName) : undefined
    const before = meter.snapshot()
    const result = await run()
    cpu[name] = CpuMeter.diff(before, meter.snapshot(), result.durationS)
    originRss[name] = originMemoryNow().rssMiB
    if (watcher) dbActivity[name] = await watcher.stop()
    return result
  }

  // ---- setup through the API: a merchant with a plain rule, shoppers, history users ----
  log('setup: admin, merchant (applied, approved, rule set), shoppers')
  const admin = await api.login(s.adminOpenid)
  const ownerOpenid = `bench-owner-${tag}`
  const owner = await api.login(ownerOpenid)
  const applied = await api.call<{ merchantId: string }>('POST', '/api/merchants/applications', {
    token: owner.token,
    body: { name: 'Bench Tea House', description: 'benchmark merchant', contactPhone: '13800138000' },
  })
  const merchantId = applied.merchantId
  await api.call('POST', `/api/admin/merchants/${merchantId}/approve`, { token: admin.token })
  const ownerAgain = await api.login(ownerOpenid)
  await api.call('PUT', '/api/merchant/rule', { token: ownerAgain.token, body: RULE })
  const shoppers = await mapConcurrent(
    Array.from({ length: settings.users }, (_, i) => `bench-u-${tag}-${i}`),
    16,
    async (openid) => ({ openid, ...(await api.login(openid)) }),
  )
  const historyUsers = await mapConcurrent(HISTORY_SIZES, 3, (n) => api.login(`bench-h${n}-${tag}`))
  log(`setup: merchant ${merchantId}, ${shoppers.length} shoppers`)

  // ---- floor (a): the award's SQL alone ----
  const plan: FloorPlan = {
    databaseUrl: s.databaseUrl,
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
  const sqlFloor = await measured(
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
  const hotRowFloor = await measured(
    'comparison: raw SQL award + merchant row',
    () => runFloor(plan, issuanceAccountId, AWARD_CONNS, settings.seconds, true),
    { watchDb: true },
  )
  log(
    `hot-row comparison: ${hotRowFloor.tps}/s (${Math.round((hotRowFloor.tps / sqlFloor.tps) * 100)} % of the per-user floor), p50 ${hotRowFloor.latencyMs.p50} p99 ${hotRowFloor.latencyMs.p99} ms`,
  )
  await closeLeftoverFloorOrders(plan)

  // ---- floor (b): the origin's bare /health ----
  log(`floor (b): origin GET /health, autocannon ${EDGE_CONNS} connections, ${settings.seconds}s`)
  const healthFloor = await measured('floor: origin /health', () =>
    autocannonRun({ url: `${s.origin.url}/health`, connections: EDGE_CONNS, durationS: settings.seconds }),
  )
  log(`floor (b): ${summary(healthFloor)}`)

  // ---- order creation: signed client straight at the origin → prepay at the sandbox ----
  const created: Array<{ id: string; outTradeNo: string; amountFen: number; openid: string }> = []
  const orderSpec = (i: number) =>
    signedSpec(signer, 'POST', '/api/orders', {
      token: shoppers[i % shoppers.length]!.token,
      body: { merchantId, amountFen: 1000 + (i % 50) * 100 },
      idempotencyKey: idemKey(),
    })
  const keepOrder = (i: number, status: number, body: string) => {
    if (status !== 201) return
    const o = JSON.parse(body) as { id: string; outTradeNo: string; amountFen: number }
    created.push({
      id: o.id,
      outTradeNo: o.outTradeNo,
      amountFen: o.amountFen,
      openid: shoppers[i % shoppers.length]!.openid,
    })
  }
  log(
    `orders: POST /api/orders (Idempotency-Key, prepay at the sandbox), ${ORDER_CONNS} concurrent, ${settings.seconds}s`,
  )
  const orderRun = await measured(
    'order creation',
    () =>
      closedLoop({
        baseUrl: s.origin.url,
        connections: ORDER_CONNS,
        durationS: settings.seconds,
        next: orderSpec,
        onAnswer: keepOrder,
      }),
    { watchDb: true },
  )
  log(`orders: ${summary(orderRun)}`)
  if (orderRun.failureSamples) log(`orders: failures e.g. ${orderRun.failureSamples[0]}`)

  // ---- awards: signed, encrypted TRANSACTION.SUCCESS notifications, 16 concurrent ----
  if (created.length < settings.awardOrders) {
    const missing = settings.awardOrders - created.length
    log(`awards: creating ${missing} more orders through the API (not timed)`)
    let made = 0
    await closedLoop({
      baseUrl: s.origin.url,
      connections: ORDER_CONNS,
      next: (i) => (made++ < missing ? orderSpec(i + 1_000_000) : undefined),
      onAnswer: (i, status, body) => keepOrder(i + 1_000_000, status, body),
    })
  }
  const keys = notificationKeys(s.sandbox)
  log(`awards: building ${created.length} signed, encrypted notifications (not timed)`)
  const notifications = created.map((o, i) =>
    buildNotification(
      {
        eventType: 'TRANSACTION.SUCCESS',
        resource: {
          appid: s.sandbox.config.appid,
          mchid: s.sandbox.config.mchid,
          out_trade_no: o.outTradeNo,
          transaction_id: `42000${String(i).padStart(23, '0')}`,
          trade_type: 'JSAPI',
          trade_state: 'SUCCESS',
          trade_state_desc: '支付成功',
          bank_type: 'OTHERS',
          success_time: new Date().toISOString(),
          attach: o.id,
          payer: { openid: o.openid },
          amount: { total: o.amountFen, payer_total: o.amountFen, currency: 'CNY', payer_currency: 'CNY' },
        },
      },
      keys,
    ),
  )
  const callbackSpec = (i: number) => {
    const n = notifications[i]
    return n && { method: 'POST', path: '/api/payment/callback', headers: n.headers, body: n.body }
  }
  log(
    `awards: delivering ${notifications.length} notifications to POST /api/payment/callback, ${AWARD_CONNS} concurrent`,
  )
  const awardRun = await measured(
    'award via callback',
    () => closedLoop({ baseUrl: s.origin.url, connections: AWARD_CONNS, next: callbackSpec }),
    { watchDb: true },
  )
  log(`awards: ${summary(awardRun)}; 204s ${awardRun.statuses['204'] ?? 0}/${notifications.length}`)
  if (awardRun.failureSamples) log(`awards: failures e.g. ${awardRun.failureSamples[0]}`)
  const redelivered = await closedLoop({
    baseUrl: s.origin.url,
    connections: AWARD_CONNS,
    next: (i) => (i < 200 ? callbackSpec(i) : undefined),
  })
  const awardCheck = await verifyAwards(sql, created)
  log(
    `awards: verified PAID ${awardCheck.paid}/${created.length}, EARN transfers ${awardCheck.earnTransfers}, entries ${awardCheck.entries}, ` +
      `wrong points ${awardCheck.wrongPoints}; 200 duplicate deliveries → ${redelivered.statuses['204'] ?? 0}×204`,
  )

  // ---- the edge, on Deno (targets) and in workerd (reported beside) ----
  const reader = shoppers[0]!
  const edge: Record<string, Record<string, unknown>> = {}
  for (const runtime of ['deno', 'workerd'] as const) {
    const url = s.edges[runtime].url
    log(`edge ${runtime}: bare GET /health (floor), ${EDGE_CONNS} connections, ${settings.seconds}s`)
    const bare = await measured(`edge ${runtime}: /health`, () =>
      autocannonRun({ url: `${url}/health`, connections: EDGE_CONNS, durationS: settings.seconds }),
    )
    log(`edge ${runtime}: /health ${summary(bare)}`)

    const merchantUrl = `${url}/api/merchants/${merchantId}`
    const first = await fetch(merchantUrl)
    await first.arrayBuffer()
    const second = await fetch(merchantUrl)
    await second.arrayBuffer()
    const statsBefore = await cacheStats(url)
    log(
      `edge ${runtime}: cached GET /api/merchants/${merchantId} (warm: ${first.headers.get('x-cache')} then ${second.headers.get('x-cache')}), ${EDGE_CONNS} connections, ${settings.seconds}s`,
    )
    const cached = await measured(`edge ${runtime}: cached merchant`, () =>
      autocannonRun({ url: merchantUrl, connections: EDGE_CONNS, durationS: settings.seconds }),
    )
    const statsAfter = await cacheStats(url)
    const hits = statsAfter.hits - statsBefore.hits
    const misses = statsAfter.misses - statsBefore.misses
    log(`edge ${runtime}: cached ${summary(cached)}; X-Cache HIT ${hits}, MISS ${misses}`)

    const balanceCheck = await fetch(`${url}/api/points/balance`, {
      headers: { authorization: `Bearer ${reader.token}` },
    })
    const balanceBody = await balanceCheck.text()
    if (balanceCheck.status !== 200)
      throw new Error(`edge ${runtime} balance read: ${balanceCheck.status} ${balanceBody}`)
    log(
      `edge ${runtime}: GET /api/points/balance with a Bearer token → origin, ${EDGE_CONNS} connections, ${settings.seconds}s`,
    )
    const authed = await measured(`edge ${runtime}: balance via origin`, () =>
      autocannonRun({
        url: `${url}/api/points/balance`,
        connections: EDGE_CONNS,
        durationS: settings.seconds,
        headers: { authorization: `Bearer ${reader.token}` },
      }),
    )
    log(`edge ${runtime}: balance ${summary(authed)}`)
    edge[runtime] = {
      health: bare,
      cached: { ...cached, cacheHits: hits, cacheMisses: misses },
      balance: authed,
    }
  }

  // ---- history pages for 100 / 10 000 / 100 000 entries ----
  const history: Record<string, unknown> = {}
  const historyRuns: Array<{ entries: number; run: LoadResult }> = []
  for (const [i, entries] of HISTORY_SIZES.entries()) {
    const user = historyUsers[i]!
    const written = await writeHistory(s.databaseUrl, {
      userId: Number(user.user.id),
      merchantId: Number(merchantId),
      issuanceAccountId,
      entries,
    })
    const queryPlan = await explainRecordsPage(s.databaseUrl, Number(user.user.id))
    const page = await api.call<{ items: Array<{ balanceAfter: number }>; nextCursor: string | null }>(
      'GET',
      '/api/points/records?limit=20',
      { token: user.token },
    )
    if (page.items.length !== 20 || page.items[0]?.balanceAfter !== entries || !page.nextCursor)
      throw new Error(
        `history page for ${entries} entries looks wrong: ${JSON.stringify(page).slice(0, 200)}`,
      )
    log(
      `history: ${entries} entries written in ${written.ms} ms (plan: key ${queryPlan.key}, ${queryPlan.extra ?? ''}); reading, ${HISTORY_CONNS} concurrent, ${settings.historySeconds}s`,
    )
    const run = await measured(`history ${entries}`, () =>
      closedLoop({
        baseUrl: s.origin.url,
        connections: HISTORY_CONNS,
        durationS: settings.historySeconds,
        next: () => signedSpec(signer, 'GET', '/api/points/records?limit=20', { token: user.token }),
      }),
    )
    log(`history ${entries}: ${summary(run)}`)
    history[String(entries)] = { ...run, writeMs: written.ms, plan: queryPlan }
    historyRuns.push({ entries, run })
  }

  // ---- the ledger, the origin's memory ----
  const invariants = await checkLedgerInvariants(db.primary)
  const invariantsHold = Object.values(invariants).every((v) => v === 0)
  log(`ledger invariants: ${JSON.stringify(invariants)} → ${invariantsHold ? 'hold' : 'BROKEN'}`)
  const originMemory = originMemoryNow()
  const denoMemory = memoryOf(s.edges.deno.child.pid)
  const heap = await originHeap(s.origin.url)
  log(
    `origin memory: RSS ${originMemory.rssMiB} MiB (peak ${originMemory.peakMiB} MiB); V8 heap used ${heap.heapUsedMiB} of ${heap.heapTotalMiB} MiB, external ${heap.externalMiB} MiB`,
  )
  log(`origin RSS after each phase (MiB): ${JSON.stringify(originRss)}`)
  await sql.end()
  await db.close()
  // In cluster mode the first worker, not the primary, holds a request-serving heap.
  if (settings.heapSnapshotDir)
    await heapSnapshot(originPids[1] ?? s.origin.child.pid, settings.heapSnapshotDir)

  // ---- verdicts ----
  const deno = edge.deno as { health: LoadResult; cached: LoadResult; balance: LoadResult }
  const workerd = edge.workerd as { health: LoadResult; cached: LoadResult; balance: LoadResult }
  const h100 = historyRuns[0]!.run
  const h100k = historyRuns[2]!.run
  const targets: Target[] = [
    {
      name: 'award throughput ≥ 50 % of raw-SQL floor',
      value: awardRun.rps,
      unit: '/s',
      floor: { name: 'raw SQL', value: sqlFloor.tps },
      ratio: ratio(awardRun.rps, sqlFloor.tps),
      goal: '≥ 0.5',
      pass: ratio(awardRun.rps, sqlFloor.tps) >= 0.5 && awardCheck.ok,
      judged: true,
    },
    {
      name: 'award p99 at 16 concurrent',
      value: awardRun.latencyMs.p99,
      unit: 'ms',
      floor: { name: 'raw SQL p99', value: sqlFloor.latencyMs.p99 },
      ratio: ratio(awardRun.latencyMs.p99, sqlFloor.latencyMs.p99),
      goal: '< 100 ms',
      pass: awardRun.latencyMs.p99 < 100,
      judged: true,
    },
    ...(['deno', 'workerd'] as const).flatMap((runtime): Target[] => {
      const e = runtime === 'deno' ? deno : workerd
      const judged = runtime === 'deno'
      return [
        {
          name: `edge ${runtime}: cached read p99`,
          value: e.cached.latencyMs.p99,
          unit: 'ms',
          floor: { name: `${runtime} /health p99`, value: e.health.latencyMs.p99 },
          ratio: ratio(e.cached.latencyMs.p99, e.health.latencyMs.p99),
          goal: '< 50 ms, 0 errors',
          pass: e.cached.latencyMs.p99 < 50 && e.cached.non2xx + e.cached.errors === 0,
          judged,
        },
        {
          name: `edge ${runtime}: auth read p99`,
          value: e.balance.latencyMs.p99,
          unit: 'ms',
          floor: { name: 'origin /health p99', value: healthFloor.latencyMs.p99 },
          ratio: ratio(e.balance.latencyMs.p99, healthFloor.latencyMs.p99),
          goal: '< 100 ms, 0 errors',
          pass: e.balance.latencyMs.p99 < 100 && e.balance.non2xx + e.balance.errors === 0,
          judged,
        },
        {
          name: `edge ${runtime}: auth read throughput`,
          value: e.balance.rps,
          unit: '/s',
          floor: { name: 'origin /health', value: healthFloor.rps },
          ratio: ratio(e.balance.rps, healthFloor.rps),
          goal: '≥ 0.25',
          pass: ratio(e.balance.rps, healthFloor.rps) >= 0.25,
          judged,
        },
      ]
    }),
    {
      name: 'history p50, 100 000 vs 100 entries',
      value: h100k.latencyMs.p50,
      unit: 'ms',
      floor: { name: '100 entries p50', value: h100.latencyMs.p50 },
      ratio: ratio(h100k.latencyMs.p50, h100.latencyMs.p50),
      goal: '≤ 2',
      pass: ratio(h100k.latencyMs.p50, h100.latencyMs.p50) <= 2,
      judged: true,
    },
    {
      name: 'history p95, 100 000 vs 100 entries',
      value: h100k.latencyMs.p95,
      unit: 'ms',
      floor: { name: '100 entries p95', value: h100.latencyMs.p95 },
      ratio: ratio(h100k.latencyMs.p95, h100.latencyMs.p95),
      goal: '≤ 2',
      pass: ratio(h100k.latencyMs.p95, h100.latencyMs.p95) <= 2,
      judged: false,
    },
    {
      name: 'origin ready (spawn → /ready 200)',
      value: s.origin.readyMs,
      unit: 'ms',
      floor: { name: 'bare Hono+tsx', value: startupFloor.readyMs },
      ratio: ratio(s.origin.readyMs, startupFloor.readyMs),
      goal: '< 3000 ms',
      pass: s.origin.readyMs < 3000,
      judged: true,
    },
    {
      name:
        settings.originWorkers > 1
          ? `origin RSS after the run (sum of ${originPids.length} processes)`
          : 'origin RSS after the run',
      value: originMemory.rssMiB,
      unit: 'MiB',
      floor: { name: 'bare Hono+tsx', value: startupFloor.rssMiB },
      ratio: ratio(originMemory.rssMiB, startupFloor.rssMiB),
      goal: '< 250 MB',
      pass: originMemory.rssMiB * 1.048576 < 250,
      judged: true,
    },
    {
      name: 'ledger invariants + every order PAID once',
      value: invariantsHold && awardCheck.ok ? 0 : 1,
      unit: 'problems',
      goal: '0',
      pass: invariantsHold && awardCheck.ok,
      judged: true,
    },
  ]

  const rows: MeasureRow[] = [
    row(
      'floor: raw SQL award tx',
      sqlFloor.clients,
      sqlFloor.tps,
      'tx/s',
      sqlFloor.latencyMs,
      sqlFloor.errors,
    ),
    row(
      'comparison: + merchant-wide row',
      hotRowFloor.clients,
      hotRowFloor.tps,
      'tx/s',
      hotRowFloor.latencyMs,
      hotRowFloor.errors,
      'design not taken',
    ),
    row('floor: origin /health', EDGE_CONNS, healthFloor.rps, '/s', healthFloor.latencyMs, errs(healthFloor)),
    row(
      'award via callback',
      AWARD_CONNS,
      awardRun.rps,
      '/s',
      awardRun.latencyMs,
      errs(awardRun),
      `${awardRun.requests} orders`,
    ),
    row(
      'order creation (prepay)',
      ORDER_CONNS,
      orderRun.rps,
      '/s',
      orderRun.latencyMs,
      errs(orderRun),
      `${orderRun.requests} orders`,
    ),
    ...(['deno', 'workerd'] as const).flatMap((runtime) => {
      const e = runtime === 'deno' ? deno : workerd
      const c = edge[runtime]!.cached as { cacheHits: number; cacheMisses: number }
      return [
        row(
          `edge ${runtime}: /health (floor)`,
          EDGE_CONNS,
          e.health.rps,
          '/s',
          e.health.latencyMs,
          errs(e.health),
        ),
        row(
          `edge ${runtime}: cached merchant`,
          EDGE_CONNS,
          e.cached.rps,
          '/s',
          e.cached.latencyMs,
          errs(e.cached),
          `HIT ${c.cacheHits} MISS ${c.cacheMisses}`,
        ),
        row(
          `edge ${runtime}: balance → origin`,
          EDGE_CONNS,
          e.balance.rps,
          '/s',
          e.balance.latencyMs,
          errs(e.balance),
        ),
      ]
    }),
    ...historyRuns.map(({ entries, run }) =>
      row(`history page, ${entries} entries`, HISTORY_CONNS, run.rps, '/s', run.latencyMs, errs(run)),
    ),
  ]

  const results = {
    startedAt: new Date(Date.now() - (performance.now() - t0)).toISOString(),
    durationS: Math.round((performance.now() - t0) / 1000),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      arch: arch(),
      node: process.version,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    settings,
    stack: { databaseName: s.databaseName, originReadyMs: s.origin.readyMs },
    floors: { sqlAward: sqlFloor, originHealth: healthFloor, bareStartup: startupFloor },
    hotRowComparison: hotRowFloor,
    award: { ...awardRun, check: awardCheck, redelivered: redelivered.statuses },
    orders: orderRun,
    edge,
    history,
    memory: { origin: { ...originMemory, ...heap, afterPhase: originRss }, deno: denoMemory },
    invariants,
    cpu,
    dbActivity,
    targets,
  }
  console.log(`\n${measurementsTable(rows)}\n\n${targetsTable(targets)}\n`)
  console.log(
    'CPU (cores busy on average) per phase:\n' +
      Object.entries(cpu)
        .map(
          ([phase, groups]) =>
            `  ${phase}: ${Object.entries(groups)
              .filter(([, v]) => v.cores >= 0.02)
              .map(([g, v]) => `${g} ${v.cores}`)
              .join(', ')}`,
        )
        .join('\n'),
  )
  console.log(
    'MariaDB during the SQL phases:\n' +
      Object.entries(dbActivity)
        .map(([phase, a]) => {
          const c = a.counters
          const top = a.states
            .slice(0, 4)
            .map((st) => `${st.state} ${Math.round(st.share * 100)}%`)
            .join('; ')
          return (
            `  ${phase}: our connections waiting on a row lock ${a.avgLockWaiting} on average; server-wide ` +
            `row-lock waits ${c.Innodb_row_lock_waits} (${c.Innodb_row_lock_time} ms), commits ${c.Com_commit}\n    connections: ${top}`
          )
        })
        .join('\n'),
  )
  const dir = join(ROOT, 'bench/results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
  log(`results written to ${file}`)
}

const errs = (r: LoadResult) => `${r.non2xx}/${r.errors}`

function row(
  name: string,
  conns: number,
  rate: number,
  unit: string,
  l: { p50: number; p95: number; p99: number },
  non2xx: number | string,
  note?: string,
): MeasureRow {
  return { name, conns, rate, unit, p50: l.p50, p95: l.p95, p99: l.p99, non2xx, note }
}

/** Asks the origin for a heap snapshot (it takes a full GC first) and waits until it is written. */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true })
  const before = new Set(readdirSync(dir))
  log(`heap snapshot: SIGUSR2 to the origin (pid ${pid}), writing to ${dir}`)
  process.kill(pid, 'SIGUSR2')
  const deadline = Date.now() + 120_000
  for (;;) {
    await new Promise((r) => setTimeout(r, 500))
    const file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'))
    // The file appears at once and grows while V8 writes it: wait until its size settles.
    if (file) {
      const size = statSync(join(dir, file)).size
      await new Promise((r) => setTimeout(r, 1000))
      if (statSync(join(dir, file)).size === size && size > 0) {
        log(
          `heap snapshot: ${join(dir, file)} (${Math.round(size / 2 ** 20)} MiB); RSS now ${memoryOf(pid)?.rssMiB} MiB`,
        )
        return
      }
    }
    if (Date.now() > deadline) throw new Error('the origin wrote no heap snapshot within 120 s')
  }
}

/** The origin's own view of its memory, from prom-client's default metrics on /metrics. */
async function originHeap(originUrl: string) {
  const text = await (await fetch(`${originUrl}/metrics`)).text()
  const mib = (metric: string) => {
    const m = new RegExp(`^${metric} ([0-9.e+]+)$`, 'm').exec(text)
    return m ? Math.round(Number(m[1]) / 104857.6) / 10 : Number.NaN
  }
  return {
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
  }
}

async function cacheStats(edgeUrl: string): Promise<{ hits: number; misses: number }> {
  const res = await fetch(`${edgeUrl}/health`)
  const body = (await res.json()) as { cache?: { hits: number; misses: number } }
  return { hits: body.cache?.hits ?? 0, misses: body.cache?.misses ?? 0 }
}

/** Every delivered order is PAID once, with its one EARN transfer (two entries) and the rule's points. */
async function verifyAwards(
  sql: mysql.Connection,
  orders: Array<{ id: string; amountFen: number }>,
): Promise<{ paid: number; earnTransfers: number; entries: number; wrongPoints: number; ok: boolean }> {
  if (orders.length === 0) return { paid: 0, earnTransfers: 0, entries: 0, wrongPoints: 0, ok: false }
  const ids = orders.map((o) => Number(o.id))
  const expected = new Map(
    orders.map((o) => [Number(o.id), Math.floor(o.amountFen / RULE.perFen) * RULE.earnPoints]),
  )
  const [paidRows] = await sql.query(
    "SELECT id, points_awarded FROM orders WHERE id IN (?) AND status = 'PAID'",
    [ids],
  )
  const paid = paidRows as Array<{ id: number; points_awarded: number }>
  const wrongPoints = paid.filter((r) => Number(r.points_awarded) !== expected.get(Number(r.id))).length
  const keys = ids.map((id) => `EARN:${id}`)
  const [[t]] = (await sql.query('SELECT COUNT(*) AS n FROM transfers WHERE business_key IN (?)', [
    keys,
  ])) as unknown as [Array<{ n: number }>]
  const [[e]] = (await sql.query(
    'SELECT COUNT(*) AS n FROM ledger_entries e JOIN transfers t ON t.id = e.transfer_id WHERE t.business_key IN (?)',
    [keys],
  )) as unknown as [Array<{ n: number }>]
  const earnTransfers = Number(t!.n)
  const entries = Number(e!.n)
  const ok =
    paid.length === orders.length &&
    earnTransfers === orders.length &&
    entries === 2 * orders.length &&
    wrongPoints === 0
  return { paid: paid.length, earnTransfers, entries, wrongPoints, ok }
}

/** Spawn → first 200 for a bare Hono app through tsx, and its RSS: the floor for the origin's start and memory. */
async function bareStartup(): Promise<{ readyMs: number; rssMiB: number; durationS: number }> {
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

try {
  await main()
  await teardown()
  log('done')
  process.exit(0)
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? err}`)
  await teardown().catch((e) => console.error(`teardown failed: ${(e as Error).message}`))
  process.exit(1)
}
