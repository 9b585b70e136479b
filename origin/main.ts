/**
 * The production origin: serve the app, run the jobs, and on SIGTERM/SIGINT drain: /ready turns 503
 * while requests are still served for SHUTDOWN_DRAIN_MS, then stop accepting, let accepted requests
 * and job runs finish, close the pools and exit — within 10 s.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { serve } from '@hono/node-server'
import { createOriginApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { createDeps, originJobs } from './deps.ts'
import { shareWorkerMetrics } from './http/worker-metrics.ts'
import { startJobs } from './jobs/runner.ts'

const SHUTDOWN_DEADLINE_MS = 10_000

// After a full GC the heap may grow by half its live size, not by V8's default of up to 4×: under
// load the origin's RSS then stays near 160 MiB instead of swinging between 150 and 265 MiB, with
// no measurable cost in CPU (docs/BENCHMARKS.md). It only makes V8 collect sooner; the heap's upper
// limit is unchanged, so it adds no out-of-memory risk. Set here, after start-up, it still takes
// effect (measured: 167 MiB, against 157 with the flag on node's command line and 178–259 without).
setFlagsFromString('--heap-growing-percent=50')

const REDIS_STARTUP_WAIT_MS = 5000

/**
 * Commands fail fast while Redis is not connected (no offline queue), so a just-started origin
 * that listened at once would refuse its first signed requests with 503. Wait for the connection
 * first — but not for ever: with Redis down the origin still starts, and /ready says why.
 */
function redisConnected(deps: ReturnType<typeof createDeps>): Promise<void> {
  if (deps.redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      deps.log.warn('starting without Redis; signed requests get 503 until it is reachable')
      resolve()
    }, REDIS_STARTUP_WAIT_MS)
    deps.redis.once('ready', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

async function main() {
  const config = loadConfig()
  const deps = createDeps(config)
  await redisConnected(deps)
  // PM2 numbers its instances; its cluster workers share one port, so /metrics merges them all.
  const instance = process.env.NODE_APP_INSTANCE
  const workers =
    instance === undefined
      ? undefined
      : await shareWorkerMetrics(
          deps.metrics.registry,
          join(tmpdir(), `points-origin-${config.PORT}`),
          instance,
        )
  let draining = false
  const app = createOriginApp(deps, { draining: () => draining, metrics: workers?.text })
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    deps.log.info('origin listening', { port: info.port, pid: process.pid })
  })
  const jobs = startJobs(originJobs(deps), config.JOB_INTERVAL_MS, deps.log, deps.metrics)

  // While draining, every response tells its client to open a new connection for the next request,
  // so no keep-alive request races the close below; set before the app writes its headers.
  server.prependListener('request', (_req: unknown, res: { setHeader(k: string, v: string): void }) => {
    if (draining) res.setHeader('Connection', 'close')
  })
  const shutdown = (signal: string) => {
    if (draining) return
    draining = true
    void workers?.close()
    deps.log.info('shutting down', { signal, drainMs: config.SHUTDOWN_DRAIN_MS })
    setTimeout(() => {
      deps.log.error('shutdown deadline passed; exiting')
      process.exit(1)
    }, SHUTDOWN_DEADLINE_MS).unref()
    // /ready answers 503 from now on; requests keep being accepted and served until load
    // balancers have noticed, then the listener closes and what was accepted runs to completion.
    setTimeout(() => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      Promise.all([closed, jobs.stop()])
        .then(() => Promise.allSettled([deps.db.close(), deps.redis.quit()]))
        .then(() => process.exit(0))
    }, config.SHUTDOWN_DRAIN_MS)
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

// A start-up that fails ends the process with an error (under PM2 an unhandled rejection is only
// logged, leaving a worker "online" that never listens) — a moment after saying why, because a PM2
// cluster worker ships its output to the daemon asynchronously and an immediate exit loses it.
await main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exitCode = 1
  setTimeout(() => process.exit(1), 300)
})
