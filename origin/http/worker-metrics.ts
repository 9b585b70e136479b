/**
 * Metrics of every worker from any worker. Under PM2 cluster mode the workers share one port, so a
 * scrape reaches one of them: each worker therefore also serves its own metrics as JSON on a Unix
 * socket in a directory shared by the app's workers, and whichever worker answers /metrics merges
 * them all. Every series carries a `worker` label, so a restarted worker's counters reset on their
 * own series (which rate() handles) instead of making a summed counter drop.
 */
import { mkdirSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs'
import { createServer, request } from 'node:http'
import { join } from 'node:path'
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client'

const PEER_TIMEOUT_MS = 1000

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

export interface WorkerMetrics {
  /** Prometheus text of this worker and every live peer. */
  text(): Promise<string>
  /** Leaves the group (a stopping worker's successor takes over its label). */
  close(): Promise<void>
}

function readPeer(socketPath: string): Promise<MetricsJson> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/', timeout: PEER_TIMEOUT_MS }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as MetricsJson)
        } catch (err) {
          reject(err)
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error('peer metrics timed out')))
    req.on('error', reject)
    req.end()
  })
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ECONNREFUSED' || code === 'ENOENT'
}

export async function shareWorkerMetrics(
  registry: Registry,
  dir: string,
  worker: string,
): Promise<WorkerMetrics> {
  registry.setDefaultLabels({ worker })
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const own = `${worker}-${process.pid}.sock`
  const server = createServer((_req, res) => {
    registry.getMetricsAsJSON().then(
      (json) => {
        res.setHeader('Content-Type', 'application/json')
        res.end(JSON.stringify(json))
      },
      () => {
        res.statusCode = 500
        res.end()
      },
    )
  })
  // exclusive: the worker owns its socket, instead of the cluster primary sharing it.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ path: join(dir, own), exclusive: true }, () => resolve())
  })
  return {
    async text() {
      const peers = readdirSync(dir).filter((name) => name.endsWith('.sock') && name !== own)
      const answers = await Promise.all(
        peers.map((name) =>
          readPeer(join(dir, name)).catch((err) => {
            // A worker killed without closing leaves its socket behind.
            if (isGone(err)) unlinkSync(join(dir, name))
            return null
          }),
        ),
      )
      const all = [await registry.getMetricsAsJSON(), ...answers.filter((a): a is MetricsJson => a !== null)]
      return AggregatorRegistry.aggregate(all).metrics()
    },
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          // The last worker of a port out leaves no empty directory behind.
          try {
            rmdirSync(dir)
          } catch {
            // peers still use it
          }
          resolve()
        }),
      ),
  }
}
