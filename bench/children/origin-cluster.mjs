/**
 * The origin in cluster mode for the bench, as PM2 runs it (ops/pm2/ecosystem.config.cjs,
 * exec_mode cluster): a primary that forks ORIGIN_WORKERS workers of the bundled origin, sharing
 * one listening port. Plain node (no tsx): the workers run dist/origin.mjs with this process's
 * node flags and environment. SIGTERM/SIGINT are passed on to the workers; the primary exits when
 * they have all exited, and a worker that dies takes the whole group down (a bench must not limp
 * on with fewer workers than it reports).
 */
import cluster from 'node:cluster'

const workers = Number(process.env.ORIGIN_WORKERS ?? 2)
if (!Number.isInteger(workers) || workers < 1) {
  console.error(`ORIGIN_WORKERS must be a positive integer, got "${process.env.ORIGIN_WORKERS}"`)
  process.exit(2)
}

cluster.setupPrimary({ exec: 'dist/origin.mjs' })
let stopping = false
for (let i = 0; i < workers; i++) cluster.fork()

let listening = 0
cluster.on('listening', () => {
  if (++listening === workers) console.log(`origin cluster: ${workers} workers listening`)
})

const stop = (signal) => {
  stopping = true
  for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal)
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGTERM'))
cluster.on('exit', (worker, code, signal) => {
  if (!stopping) {
    console.error(`origin worker ${worker.process.pid} exited (${code ?? signal}); stopping the others`)
    stop('SIGTERM')
  }
  if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(stopping ? 0 : 1)
})
