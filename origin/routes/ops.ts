/** Liveness, readiness and Prometheus metrics (API.md §7). */
import { timingSafeEqual } from 'node:crypto'
import { createRoute, z } from '@hono/zod-openapi'
import { AppError } from '../../shared/errors.ts'
import type { OriginDeps } from '../http/context.ts'
import { router } from '../http/openapi.ts'
import { errors, json } from './components.ts'

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

const tags = ['ops']
const Ready = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({ mysql: z.enum(['ok', 'down']), redis: z.enum(['ok', 'down']) }),
  })
  .openapi('Readiness')

const Draining = z.object({ status: z.literal('draining') }).openapi('Draining')

const health = createRoute({
  method: 'get',
  path: '/health',
  operationId: 'health',
  summary: 'Liveness: the process answers',
  tags,
  responses: { 200: json(z.object({ status: z.literal('ok') }), 'Alive') },
})

const ready = createRoute({
  method: 'get',
  path: '/ready',
  operationId: 'ready',
  summary: 'Readiness: MySQL and Redis answer within 2 s',
  tags,
  responses: {
    200: json(Ready, 'Ready'),
    503: json(z.union([Ready, Draining]), 'A dependency is down, or the process is draining on shutdown'),
  },
})

const metrics = createRoute({
  method: 'get',
  path: '/metrics',
  operationId: 'metrics',
  summary: 'Prometheus metrics (bearer METRICS_TOKEN when configured)',
  tags,
  responses: {
    200: {
      description: 'Prometheus text exposition',
      content: { 'text/plain': { schema: z.string() } },
    },
    ...errors(401),
  },
})

/** What the serving process adds: whether it is shutting down, and metrics of all its workers. */
export interface ServingState {
  draining?: () => boolean
  metrics?: () => Promise<string>
}

export function opsRoutes(deps: OriginDeps, serving: ServingState = {}) {
  const metricsText = serving.metrics ?? (() => deps.metrics.registry.metrics())
  return router()
    .openapi(health, (c) => c.json({ status: 'ok' as const }, 200))
    .openapi(ready, async (c) => {
      if (serving.draining?.()) return c.json({ status: 'draining' as const }, 503)
      const [mysql, redis] = await Promise.allSettled([
        withTimeout(deps.db.ping(), READY_TIMEOUT_MS),
        withTimeout(deps.redis.ping(), READY_TIMEOUT_MS),
      ])
      const checks = {
        mysql: mysql.status === 'fulfilled' ? ('ok' as const) : ('down' as const),
        redis: redis.status === 'fulfilled' ? ('ok' as const) : ('down' as const),
      }
      const ready = checks.mysql === 'ok' && checks.redis === 'ok'
      const answer = { status: ready ? ('ready' as const) : ('not_ready' as const), checks }
      return ready ? c.json(answer, 200) : c.json(answer, 503)
    })
    .openapi(metrics, async (c) => {
      const token = deps.config.METRICS_TOKEN
      if (token && !sameSecret(c.req.header('authorization') ?? '', `Bearer ${token}`)) {
        throw new AppError('UNAUTHENTICATED', 'metrics need the METRICS_TOKEN bearer')
      }
      return c.text(await metricsText(), 200, { 'Content-Type': deps.metrics.registry.contentType })
    })
}
