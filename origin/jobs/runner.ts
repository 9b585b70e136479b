/**
 * Runs the origin's periodic jobs. Runs of one job never overlap within a process; across
 * processes each job is safe because every item is claimed under its own row lock and re-checked.
 * stop() waits for a run in progress, so shutdown never cuts a job in half.
 */
import type { Logger } from '../obs/logger.ts'
import type { ServiceMetrics } from '../obs/metrics.ts'

export interface Job {
  name: string
  run(now: Date): Promise<number>
}

export interface JobRunner {
  stop(): Promise<void>
}

export function startJobs(jobs: Job[], intervalMs: number, log: Logger, metrics: ServiceMetrics): JobRunner {
  let stopping = false
  const inFlight = new Set<Promise<void>>()
  const timers = jobs.map((job) => {
    let running = false
    const tick = () => {
      if (running || stopping) return
      running = true
      const run = job
        .run(new Date())
        .then((items) => {
          metrics.jobRuns.inc({ job: job.name, outcome: 'ok' })
          metrics.jobLastSuccess.set({ job: job.name }, Date.now() / 1000)
          if (items > 0) log.info('job', { job: job.name, items })
        })
        .catch((err: Error) => {
          metrics.jobRuns.inc({ job: job.name, outcome: 'error' })
          log.error('job failed', { job: job.name, error: err.message })
        })
        .finally(() => {
          running = false
          inFlight.delete(run)
        })
      inFlight.add(run)
    }
    return setInterval(tick, intervalMs)
  })
  return {
    async stop() {
      stopping = true
      for (const t of timers) clearInterval(t)
      await Promise.all(inFlight)
    },
  }
}
