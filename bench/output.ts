/** The run's printed report (measurements, verdicts, CPU, MariaDB, scaling on paper) and its JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs'
import { arch, cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { type BenchContext, elapsedS, loadAtStart, log, settings, startedAt } from './lib/context.ts'
import { ROOT } from './lib/procs.ts'
import { type MeasureRow, measurementsTable, type Target, targetsTable } from './lib/report.ts'
import type { RunResults } from './targets.ts'

export function writeReport(
  ctx: BenchContext,
  r: RunResults,
  out: { history: Record<string, unknown>; targets: Target[]; rows: MeasureRow[] },
) {
  const results = {
    startedAt: startedAt(),
    durationS: Math.round(elapsedS()),
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
    stack: { databaseName: ctx.stack.databaseName, originReadyMs: r.originReadyMs },
    floors: { sqlAward: r.floors.sqlFloor, originHealth: r.floors.health, bareStartup: r.floors.startup },
    hotRowComparison: r.floors.hotRowFloor,
    award: { ...r.awards.awardRun, check: r.awards.awardCheck, redelivered: r.awards.redelivered.statuses },
    orders: r.awards.orderRun,
    directRead: r.directRead,
    edge: r.edge,
    scan: r.scan,
    history: out.history,
    memory: {
      origin: { ...r.after.originMemory, ...r.after.heap, afterPhase: ctx.originRss },
      deno: r.after.denoMemory,
    },
    invariants: r.after.invariants,
    packaging: r.packaging,
    scaling: r.scaling,
    cpu: ctx.cpu,
    dbActivity: ctx.dbActivity,
    targets: out.targets,
  }
  console.log(`\n${measurementsTable(out.rows)}\n\n${targetsTable(out.targets)}\n`)
  console.log(
    'CPU (cores busy on average) per phase:\n' +
      Object.entries(ctx.cpu)
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
      Object.entries(ctx.dbActivity)
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
  const sc = r.scaling
  console.log(
    `Scaling on paper (CPU ms per request in this run → one ${sc.hostCores}-core host at ${sc.busy * 100} % busy):\n` +
      `  per award: ${JSON.stringify(sc.award)} → origin ${sc.capacity.awardsPerS.origin}/s, MySQL ${sc.capacity.awardsPerS.mysql}/s; first to saturate: ${sc.firstToSaturate.awards}\n` +
      `  per edge read: ${JSON.stringify(sc.read)} → ${JSON.stringify(sc.capacity.readsPerS)}; first to saturate: ${sc.firstToSaturate.reads}`,
  )
  const dir = join(ROOT, 'bench/results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
  log(`results written to ${file}`)
}
