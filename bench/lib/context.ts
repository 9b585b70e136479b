/**
 * What every bench phase shares: the settings from the environment, the log, and `measured`, which
 * wraps a phase with CPU per process group, the origin's RSS and (optionally) MariaDB's activity.
 */
import { loadavg } from 'node:os'
import type { Signer } from './api.ts'
import { originApi } from './api.ts'
import { type DbActivity, watchDb } from './db-activity.ts'
import type { LoadResult } from './load.ts'
import { CpuMeter, descendants, pidsByComm, sumMemory } from './procs.ts'
import type { MeasureRow } from './report.ts'
import type { BenchStack } from './stack.ts'

const num = (name: string, fallback: number) => {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`)
  return value
}

export const settings = {
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
export type Settings = typeof settings

export const AWARD_CONNS = 16
/** Issue 16's second award load: p99 < 200 ms at 64 concurrent deliveries. */
export const WIDE_AWARD_CONNS = 64
export const ORDER_CONNS = 16
export const EDGE_CONNS = 32
export const HISTORY_CONNS = 8
export const RULE = {
  earnPoints: 1,
  perFen: 100,
  minOrderFen: 0,
  maxPointsPerOrder: null,
  dailyCapPerUser: null,
}

const t0 = performance.now()
export const elapsedS = () => (performance.now() - t0) / 1000
export const startedAt = () => new Date(Date.now() - (performance.now() - t0)).toISOString()
export const loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100)
export const log = (line: string) => console.log(`[bench ${elapsedS().toFixed(1).padStart(6)}s] ${line}`)

export const summary = (r: LoadResult) =>
  `${r.rps}/s over ${r.durationS}s, p50 ${r.latencyMs.p50} p95 ${r.latencyMs.p95} p99 ${r.latencyMs.p99} ms, ` +
  `non-2xx ${r.non2xx}, errors ${r.errors}`

export const errs = (r: LoadResult) => `${r.non2xx}/${r.errors}`

export function row(
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

export type CpuByGroup = ReturnType<typeof CpuMeter.diff>

/** One run's shared state: the stack, a signed client for the origin, and the per-phase meters. */
export function createContext(stack: BenchStack) {
  const signer: Signer = { keyId: stack.keyId, secret: stack.edgeSecret }
  const workerdPids = descendants(stack.edges.workerd.child.pid)
  // In cluster mode the origin is the primary and its workers: CPU and memory are their sums.
  const originPids = descendants(stack.origin.child.pid)
  const originMemoryNow = () => sumMemory(originPids)
  const meter = new CpuMeter(() => ({
    'bench (load gen)': [process.pid],
    origin: originPids,
    mariadb: pidsByComm(['mariadbd', 'mysqld']),
    redis: pidsByComm(['redis-server']),
    bridge: [stack.bridge.child.pid],
    sandbox: [stack.sandboxChild.pid],
    deno: [stack.edges.deno.child.pid],
    workerd: workerdPids,
  }))
  const cpu: Record<string, CpuByGroup> = {}
  const dbActivity: Record<string, DbActivity> = {}
  const originRss: Record<string, number> = { 'after start-up': originMemoryNow().rssMiB }
  const measured = async <T extends { durationS: number }>(
    name: string,
    run: () => Promise<T>,
    opts: { watchDb?: boolean } = {},
  ) => {
    const watcher = opts.watchDb ? await watchDb(settings.mysqlServer, stack.databaseName) : undefined
    const before = meter.snapshot()
    const result = await run()
    cpu[name] = CpuMeter.diff(before, meter.snapshot(), result.durationS)
    originRss[name] = originMemoryNow().rssMiB
    if (watcher) dbActivity[name] = await watcher.stop()
    return result
  }
  return {
    stack,
    signer,
    api: originApi(stack.origin.url, signer),
    originPids,
    originMemoryNow,
    measured,
    cpu,
    dbActivity,
    originRss,
  }
}
export type BenchContext = ReturnType<typeof createContext>

/** CPU milliseconds a process group spent per request in a measured phase. */
export function cpuMsPer(ctx: BenchContext, phase: string, group: string, requests: number): number {
  const g = ctx.cpu[phase]?.[group]
  if (!g || requests <= 0) return Number.NaN
  return Math.round((g.cpuS / requests) * 1e5) / 100
}
