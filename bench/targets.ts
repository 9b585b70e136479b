/** Every target of the run (DESIGN.md's and issue 16's) as a PASS/FAIL verdict, and the measurement table. */
import {
  AWARD_CONNS,
  EDGE_CONNS,
  errs,
  HISTORY_CONNS,
  ORDER_CONNS,
  row,
  WIDE_AWARD_CONNS,
} from './lib/context.ts'
import type { LoadResult } from './lib/load.ts'
import { type MeasureRow, ratio, type Target } from './lib/report.ts'
import type { ordersAndAwards } from './phases/awards.ts'
import { type EdgeRuntimeResult, RUNTIMES } from './phases/edge.ts'
import type { bareStartup, sqlFloors } from './phases/floors.ts'
import type { ledgerAndMemory } from './phases/memory.ts'
import type { PackagingResult } from './phases/packaging.ts'
import type { Scaling } from './phases/scaling.ts'
import type { scanAtRate } from './phases/scan-rate.ts'

export interface RunResults {
  floors: Awaited<ReturnType<typeof sqlFloors>> & {
    health: LoadResult
    startup: Awaited<ReturnType<typeof bareStartup>>
  }
  awards: Awaited<ReturnType<typeof ordersAndAwards>>
  edge: Record<(typeof RUNTIMES)[number], EdgeRuntimeResult>
  directRead: LoadResult
  scan: Awaited<ReturnType<typeof scanAtRate>>
  historyRuns: Array<{ entries: number; run: LoadResult }>
  after: Awaited<ReturnType<typeof ledgerAndMemory>>
  originReadyMs: number
  originProcesses: number
  packaging: PackagingResult
  scaling: Scaling
}

const clean = (r: LoadResult) => r.non2xx + r.errors === 0

/** Issue 16's target 1, group commit: also printed alone by `npm run bench:awards`. */
export function awardTargets(
  sqlFloor: RunResults['floors']['sqlFloor'],
  awards: Pick<RunResults['awards'], 'awardRun' | 'awardCheck' | 'wideRun'>,
  perAward: { origin: number; mariadb: number },
): Target[] {
  const { awardRun, awardCheck, wideRun } = awards
  return [
    {
      name: '1. award throughput ≥ 1.0 × raw-SQL floor (16 conc.)',
      value: awardRun.rps,
      unit: '/s',
      floor: { name: 'raw SQL', value: sqlFloor.tps },
      ratio: ratio(awardRun.rps, sqlFloor.tps),
      goal: '≥ 1.0',
      pass: ratio(awardRun.rps, sqlFloor.tps) >= 1 && awardCheck.ok,
      judged: true,
    },
    {
      name: '1. award p99 at 16 concurrent',
      value: awardRun.latencyMs.p99,
      unit: 'ms',
      floor: { name: 'raw SQL p99', value: sqlFloor.latencyMs.p99 },
      ratio: ratio(awardRun.latencyMs.p99, sqlFloor.latencyMs.p99),
      goal: '< 100 ms, 0 errors',
      pass: awardRun.latencyMs.p99 < 100 && clean(awardRun),
      judged: true,
    },
    {
      name: `1. award p99 at ${WIDE_AWARD_CONNS} concurrent`,
      value: wideRun.latencyMs.p99,
      unit: 'ms',
      floor: { name: 'raw SQL p99 (16)', value: sqlFloor.latencyMs.p99 },
      ratio: ratio(wideRun.latencyMs.p99, sqlFloor.latencyMs.p99),
      goal: '< 200 ms, 0 errors',
      pass: wideRun.latencyMs.p99 < 200 && clean(wideRun),
      judged: true,
    },
    {
      name: '1. origin CPU per award (16 conc.)',
      value: perAward.origin,
      unit: 'ms',
      floor: { name: 'MariaDB per award', value: perAward.mariadb },
      goal: '≤ 0.5 ms',
      pass: perAward.origin <= 0.5,
      judged: true,
    },
  ]
}

export function targetsOf(r: RunResults): Target[] {
  const h100 = r.historyRuns[0]!.run
  const h100k = r.historyRuns[2]!.run
  const deno = r.edge.deno
  const { bundle, install } = r.packaging
  return [
    ...awardTargets(r.floors.sqlFloor, r.awards, r.scaling.award),
    {
      name: '2. Deno edge auth read ≥ 60 % of signed direct read',
      value: deno.balance.rps,
      unit: '/s',
      floor: { name: 'origin direct, signed', value: r.directRead.rps },
      ratio: ratio(deno.balance.rps, r.directRead.rps),
      goal: '≥ 0.6, 0 errors',
      pass: ratio(deno.balance.rps, r.directRead.rps) >= 0.6 && clean(deno.balance) && clean(r.directRead),
      judged: true,
    },
    ...RUNTIMES.flatMap((runtime): Target[] => {
      const e = r.edge[runtime]
      const judged = runtime === 'deno'
      return [
        {
          name: `2. edge ${runtime}: auth read p99`,
          value: e.balance.latencyMs.p99,
          unit: 'ms',
          floor: { name: 'direct p99', value: r.directRead.latencyMs.p99 },
          ratio: ratio(e.balance.latencyMs.p99, r.directRead.latencyMs.p99),
          goal: '< 100 ms, 0 errors',
          pass: e.balance.latencyMs.p99 < 100 && clean(e.balance),
          judged,
        },
        {
          name: `2. edge ${runtime}: cached read p99`,
          value: e.cached.latencyMs.p99,
          unit: 'ms',
          floor: { name: `${runtime} /health p99`, value: e.health.latencyMs.p99 },
          ratio: ratio(e.cached.latencyMs.p99, e.health.latencyMs.p99),
          goal: '< 50 ms, 0 errors',
          pass: e.cached.latencyMs.p99 < 50 && clean(e.cached),
          judged,
        },
      ]
    }),
    {
      name: '2. Deno auth read vs origin /health (DESIGN.md)',
      value: deno.balance.rps,
      unit: '/s',
      floor: { name: 'origin /health', value: r.floors.health.rps },
      ratio: ratio(deno.balance.rps, r.floors.health.rps),
      goal: '≥ 0.25',
      pass: ratio(deno.balance.rps, r.floors.health.rps) >= 0.25,
      judged: false,
    },
    {
      name: '3. Worker bundle, gzipped (wrangler --dry-run)',
      value: Math.round(bundle.gzipBytes / 102.4) / 10,
      unit: 'KiB',
      floor: { name: 'raw KiB', value: Math.round(bundle.rawBytes / 1024) },
      goal: '≤ 64 KiB',
      pass: bundle.gzipBytes <= 64 * 1024,
      judged: true,
    },
    {
      name: `4. scan.js rate (${r.scan.connections} VUs, ${Math.round(r.scan.rps)}/s) via Deno: p95`,
      value: r.scan.latencyMs.p95,
      unit: 'ms',
      floor: { name: 'HIT share', value: r.scan.hitShare },
      goal: 'p95 < 50 ms, failed < 0.1 %, HIT > 95 %',
      pass:
        r.scan.latencyMs.p95 < 50 &&
        (r.scan.non2xx + r.scan.errors) / Math.max(1, r.scan.requests) < 0.001 &&
        r.scan.hitShare > 0.95,
      judged: true,
    },
    {
      name: '5. production install (npm ci --omit=dev)',
      value: Math.round(install.bytes / 2 ** 20),
      unit: 'MiB',
      floor: { name: 'packages', value: install.packages },
      goal: '< 100 MiB, no wrangler/workerd/tsx/esbuild',
      pass: install.bytes < 100 * 2 ** 20 && install.forbidden.length === 0,
      judged: true,
    },
    {
      name: '5. dist/origin.mjs starts on production deps',
      value: r.originReadyMs,
      unit: 'ms',
      goal: 'ready < 3000 ms',
      pass: r.originReadyMs < 3000,
      judged: true,
    },
    {
      name: `6. 16-core host on paper: awards/s (${r.scaling.firstToSaturate.awards} first)`,
      value: Math.min(r.scaling.capacity.awardsPerS.origin, r.scaling.capacity.awardsPerS.mysql),
      unit: '/s',
      goal: 'docs/SCALING.md',
      pass: Number.isFinite(r.scaling.capacity.awardsPerS.origin),
      judged: false,
    },
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
      value: r.originReadyMs,
      unit: 'ms',
      floor: { name: 'bare Hono+tsx', value: r.floors.startup.readyMs },
      ratio: ratio(r.originReadyMs, r.floors.startup.readyMs),
      goal: '< 3000 ms',
      pass: r.originReadyMs < 3000,
      judged: true,
    },
    {
      name:
        r.originProcesses > 1
          ? `origin RSS after the run (sum of ${r.originProcesses} processes)`
          : 'origin RSS after the run',
      value: r.after.originMemory.rssMiB,
      unit: 'MiB',
      floor: { name: 'bare Hono+tsx', value: r.floors.startup.rssMiB },
      ratio: ratio(r.after.originMemory.rssMiB, r.floors.startup.rssMiB),
      goal: '< 250 MB',
      pass: r.after.originMemory.rssMiB * 1.048576 < 250,
      judged: true,
    },
    {
      name: 'ledger invariants + every order PAID once',
      value: r.after.invariantsHold && r.awards.awardCheck.ok ? 0 : 1,
      unit: 'problems',
      goal: '0',
      pass: r.after.invariantsHold && r.awards.awardCheck.ok,
      judged: true,
    },
  ]
}

export function rowsOf(r: RunResults): MeasureRow[] {
  const { sqlFloor, hotRowFloor, health } = r.floors
  const { awardRun, orderRun } = r.awards
  return [
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
    row('floor: origin /health', EDGE_CONNS, health.rps, '/s', health.latencyMs, errs(health)),
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
      `award via callback, ${WIDE_AWARD_CONNS} conc.`,
      WIDE_AWARD_CONNS,
      r.awards.wideRun.rps,
      '/s',
      r.awards.wideRun.latencyMs,
      errs(r.awards.wideRun),
      `${r.awards.wideRun.requests} orders`,
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
    row(
      'origin: balance, signed, direct',
      EDGE_CONNS,
      r.directRead.rps,
      '/s',
      r.directRead.latencyMs,
      errs(r.directRead),
    ),
    ...RUNTIMES.flatMap((runtime) => {
      const e = r.edge[runtime]
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
          `HIT ${e.cached.cacheHits} MISS ${e.cached.cacheMisses}`,
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
    row(
      'edge deno: scan.js rate',
      r.scan.connections,
      r.scan.rps,
      '/s',
      r.scan.latencyMs,
      errs(r.scan),
      `HIT share ${r.scan.hitShare}`,
    ),
    ...r.historyRuns.map(({ entries, run }) =>
      row(`history page, ${entries} entries`, HISTORY_CONNS, run.rps, '/s', run.latencyMs, errs(run)),
    ),
  ]
}
