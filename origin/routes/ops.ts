/** Liveness, readiness and Prometheus metrics (API.md §7). */
import { timingSafeEqual } from 'node:crypto'
import { Hono } from 'hono'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv, OriginDeps } from '../http/context.ts'

const READY_TIMEOUT_MS = 2000

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref(),
    ),
  ])
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** What the serving process adds: whether it is shutting down, and metrics of all its workers. */
export interface ServingState {
  draining?: () => boolean
  metrics?: () => Promise<string>
}

export function opsRoutes(deps: OriginDeps, serving: ServingState = {}) {
  const metricsText = serving.metrics ?? (() => deps.metrics.registry.metrics())
  return new Hono<AppEnv>()
    .get('/health', (c) => c.json({ status: 'ok' }))
    .get('/ready', async (c) => {
      if (serving.draining?.()) return c.json({ status: 'draining' }, 503)
      const [mysql, redis] = await Promise.allSettled([
        withTimeout(deps.db.ping(), READY_TIMEOUT_MS),
        withTimeout(deps.redis.ping(), READY_TIMEOUT_MS),
      ])
      const checks = {
        mysql: mysql.status === 'fulfilled' ? 'ok' : 'down',
        redis: redis.status === 'fulfilled' ? 'ok' : 'down',
      }
      const ready = checks.mysql === 'ok' && checks.redis === 'ok'
      return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503)
    })
    .get('/metrics', async (c) => {
      const token = deps.config.METRICS_TOKEN
      if (token && !sameSecret(c.req.header('authorization') ?? '', `Bearer ${token}`)) {
        throw new AppError('UNAUTHENTICATED', 'metrics need the METRICS_TOKEN bearer')
      }
      c.header('Content-Type', deps.metrics.registry.contentType)
      return c.body(await metricsText())
    })
}
