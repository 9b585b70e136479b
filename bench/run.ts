/**
 * `npm run bench`: starts a fresh stack, measures the floors and the paths every target is about
 * (DESIGN.md's and issue 16's; one module per phase under bench/phases/), checks the ledger
 * afterwards, prints the measurements and a PASS/FAIL line per target, writes
 * bench/results/<timestamp>.json and tears everything down. Exits 0 unless the stack failed;
 * PASS/FAIL lines are information. See docs/BENCHMARKS.md.
 *
 * Settings (environment): BENCH_SECONDS (10) per timed phase, BENCH_HISTORY_SECONDS (4) per history
 * size, BENCH_USERS (256) shoppers, BENCH_AWARD_ORDERS (4000) minimum orders paid by callback,
 * BENCH_POOL_SIZE (32) origin DATABASE_POOL_SIZE, BENCH_LOG_LEVEL (warn) origin LOG_LEVEL,
 * BENCH_REDIS_URL (redis://127.0.0.1:6379/4), TEST_MYSQL_URL (mysql://root@127.0.0.1:3306),
 * BENCH_PROFILE_DIR (unset: when set, the origin and the bridge write .cpuprofile
 * files there), BENCH_HEAP_SNAPSHOT_DIR (unset: when set, the origin writes a heap snapshot there
 * after the run; summarise either with bench/profile-summary.ts or bench/heap-summary.ts),
 * BENCH_ORIGIN_NODE_ARGS (extra node flags for the origin, space separated, e.g.
 * --max-semi-space-size=8), BENCH_ORIGIN_WORKERS (1: above 1 the origin runs in cluster mode, as PM2 runs it),
 * BENCH_ONLY=awards (`npm run bench:awards`: the SQL floor and the award runs only, with their
 * verdicts — for measuring group commit again and again).
 */
import { randomBytes } from 'node:crypto'
import { cpus } from 'node:os'
import mysql from 'mysql2/promise'
import { cpuMsPer, createContext, loadAtStart, log, settings } from './lib/context.ts'
import { targetsTable } from './lib/report.ts'
import { checkAgainstShared } from './lib/signing.ts'
import { type BenchStack, startBenchStack } from './lib/stack.ts'
import { writeReport } from './output.ts'
import { ordersAndAwards } from './phases/awards.ts'
import { directSignedRead, edgeRuntime } from './phases/edge.ts'
import { bareStartup, healthFloor, sqlFloors } from './phases/floors.ts'
import { historyPages } from './phases/history.ts'
import { ledgerAndMemory } from './phases/memory.ts'
import { packaging } from './phases/packaging.ts'
import { scalingOnPaper } from './phases/scaling.ts'
import { scanAtRate } from './phases/scan-rate.ts'
import { setupMerchant } from './phases/setup.ts'
import { awardTargets, type RunResults, rowsOf, targetsOf } from './targets.ts'

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

async function main() {
  await checkAgainstShared('bench-self-check-secret')
  log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadAtStart.join(' ')} ` +
      '(other work on this machine shows up in every number)',
  )
  const tag = randomBytes(3).toString('hex')
  if (process.env.BENCH_ONLY === 'awards') return awardsOnly(tag)
  const packed = await packaging()
  const startup = await bareStartup()
  log(`floor: bare Hono on Node (tsx) answers in ${startup.readyMs} ms, RSS ${startup.rssMiB} MiB`)

  stack = await startBenchStack(settings, log)
  const ctx = createContext(stack)
  const sql = await mysql.createConnection({ uri: stack.databaseUrl, timezone: 'Z' })

  const setup = await setupMerchant(ctx, tag)
  const floors = await sqlFloors(ctx, setup.merchantId, tag)
  const health = await healthFloor(ctx)
  const awards = await ordersAndAwards(ctx, setup, sql)
  await sql.end()
  const directRead = await directSignedRead(ctx, setup)
  const deno = await edgeRuntime(ctx, setup, 'deno')
  const scan = await scanAtRate(ctx, setup)
  const workerd = await edgeRuntime(ctx, setup, 'workerd')
  const { history, runs: historyRuns } = await historyPages(ctx, setup, floors.issuanceAccountId)
  const after = await ledgerAndMemory(ctx)

  const results: RunResults = {
    floors: { ...floors, health, startup },
    awards,
    edge: { deno, workerd },
    directRead,
    scan,
    historyRuns,
    after,
    originReadyMs: stack.origin.readyMs,
    originProcesses: ctx.originPids.length,
    packaging: packed,
    scaling: scalingOnPaper(ctx, awards.awardRun, deno.balance),
  }
  writeReport(ctx, results, { history, targets: targetsOf(results), rows: rowsOf(results) })
}

async function awardsOnly(tag: string) {
  stack = await startBenchStack(settings, log)
  const ctx = createContext(stack)
  const sql = await mysql.createConnection({ uri: stack.databaseUrl, timezone: 'Z' })
  const setup = await setupMerchant(ctx, tag)
  const floors = await sqlFloors(ctx, setup.merchantId, tag)
  const awards = await ordersAndAwards(ctx, setup, sql)
  await sql.end()
  const perAward = {
    origin: cpuMsPer(ctx, 'award via callback', 'origin', awards.awardRun.requests),
    mariadb: cpuMsPer(ctx, 'award via callback', 'mariadb', awards.awardRun.requests),
  }
  console.log(`\n${targetsTable(awardTargets(floors.sqlFloor, awards, perAward))}\n`)
  console.log('CPU (cores busy on average) per phase:')
  for (const [phase, groups] of Object.entries(ctx.cpu))
    console.log(
      `  ${phase}: ${Object.entries(groups)
        .filter(([, g]) => g.cores >= 0.02)
        .map(([name, g]) => `${name} ${g.cores}`)
        .join(', ')}`,
    )
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
