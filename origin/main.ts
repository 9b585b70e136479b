/**
 * The production origin: serve the app, run the jobs, and on SIGTERM/SIGINT stop accepting, let
 * in-flight requests and job runs finish, close the pools and exit — within 10 s.
 */
import { serve } from '@hono/node-server'
import { createOriginApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { createDeps, originJobs } from './deps.ts'
import { startJobs } from './jobs/runner.ts'

const SHUTDOWN_DEADLINE_MS = 10_000

function main() {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  const deps = createDeps(config)
  const app = createOriginApp(deps)
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    deps.log.info('origin listening', { port: info.port, pid: process.pid })
  })
  const jobs = startJobs(originJobs(deps), config.JOB_INTERVAL_MS, deps.log, deps.metrics)

  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    deps.log.info('shutting down', { signal })
    setTimeout(() => {
      deps.log.error('shutdown deadline passed; exiting')
      process.exit(1)
    }, SHUTDOWN_DEADLINE_MS).unref()
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    if ('closeIdleConnections' in server) server.closeIdleConnections()
    Promise.all([closed, jobs.stop()])
      .then(() => Promise.allSettled([deps.db.close(), deps.redis.quit()]))
      .then(() => process.exit(0))
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

main()
