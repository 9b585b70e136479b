/**
 * Scaling on paper (docs/SCALING.md): this run's CPU per award and per authenticated read of each
 * process, turned into what one 16-core host of each kind would carry at 70 % busy. CPU only: a
 * production MySQL primary also waits on its redo log and binlog flushes per commit (group commit
 * shares one flush among concurrent commits), which this machine's numbers do not include.
 */
import { type BenchContext, cpuMsPer } from '../lib/context.ts'
import type { LoadResult } from '../lib/load.ts'

const HOST_CORES = 16
const BUSY = 0.7

export interface CostPerRequest {
  origin: number
  mariadb: number
  deno: number
  bridge: number
  redis: number
}

const costs = (ctx: BenchContext, phase: string, run: LoadResult): CostPerRequest => ({
  origin: cpuMsPer(ctx, phase, 'origin', run.requests),
  mariadb: cpuMsPer(ctx, phase, 'mariadb', run.requests),
  deno: cpuMsPer(ctx, phase, 'deno', run.requests),
  bridge: cpuMsPer(ctx, phase, 'bridge', run.requests),
  redis: cpuMsPer(ctx, phase, 'redis', run.requests),
})

const perSecond = (cpuMs: number, cores = HOST_CORES) =>
  cpuMs > 0 ? Math.round((cores * BUSY * 1000) / cpuMs) : Number.NaN

export function scalingOnPaper(ctx: BenchContext, awardRun: LoadResult, edgeRead: LoadResult) {
  const award = costs(ctx, 'award via callback', awardRun)
  const read = costs(ctx, 'edge deno: balance via origin', edgeRead)
  const capacity = {
    awardsPerS: { origin: perSecond(award.origin), mysql: perSecond(award.mariadb) },
    readsPerS: {
      origin: perSecond(read.origin),
      mysql: perSecond(read.mariadb),
      denoEdge: perSecond(read.deno + read.bridge),
      // Redis runs commands on one thread, however many cores its host has.
      redis: perSecond(read.redis, 1),
    },
  }
  const awardsFirst = capacity.awardsPerS.mysql < capacity.awardsPerS.origin ? 'MySQL primary' : 'origin host'
  const reads = Object.entries(capacity.readsPerS).filter(([, v]) => Number.isFinite(v))
  const readsFirst = reads.reduce((a, b) => (b[1] < a[1] ? b : a), reads[0] ?? ['none', Number.NaN])[0]
  return {
    hostCores: HOST_CORES,
    busy: BUSY,
    award,
    read,
    capacity,
    firstToSaturate: { awards: awardsFirst, reads: readsFirst },
  }
}
export type Scaling = ReturnType<typeof scalingOnPaper>
