/**
 * The same origin on Deno 2 (`npm run start:origin:deno`): Deno.serve instead of
 * @hono/node-server; the app, services, drivers (mysql2, ioredis, prom-client through Deno's npm
 * compatibility) and jobs are the Node origin's. Node stays the production default (see README).
 */
import { createOriginApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { createDeps, originJobs } from './deps.ts'
import { startJobs } from './jobs/runner.ts'

declare const Deno: {
  exit(code: number): never
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void> }
}

const SHUTDOWN_DEADLINE_MS = 10_000

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  console.error(err.message)
  Deno.exit(1)
}

const deps = createDeps(config)
await new Promise<void>((resolve) => {
  if (deps.redis.status === 'ready') return resolve()
  const timer = setTimeout(resolve, 5000)
  deps.redis.once('ready', () => {
    clearTimeout(timer)
    resolve()
  })
})
let draining = false
const app = createOriginApp(deps, { draining: () => draining })
const server = Deno.serve(
  {
    port: config.PORT,
    hostname: config.HOST,
    onListen: ({ port }) => deps.log.info('origin listening', { port, runtime: 'deno' }),
  },
  app.fetch,
)
const jobs = startJobs(originJobs(deps), config.JOB_INTERVAL_MS, deps.log, deps.metrics)

function shutdown(signal: string) {
  if (draining) return
  draining = true
  deps.log.info('shutting down', { signal, drainMs: config.SHUTDOWN_DRAIN_MS })
  setTimeout(() => {
    deps.log.error('shutdown deadline passed; exiting')
    Deno.exit(1)
  }, SHUTDOWN_DEADLINE_MS)
  // As on Node: /ready is 503 from now on while requests are still served, so a load balancer can
  // stop sending; then shutdown() stops accepting and resolves once every accepted request is answered.
  setTimeout(() => {
    Promise.all([server.shutdown(), jobs.stop()])
      .then(() => Promise.allSettled([deps.db.close(), deps.redis.quit()]))
      .then(() => Deno.exit(0))
  }, config.SHUTDOWN_DRAIN_MS)
}
Deno.addSignalListener('SIGTERM', () => shutdown('SIGTERM'))
Deno.addSignalListener('SIGINT', () => shutdown('SIGINT'))
