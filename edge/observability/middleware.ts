import { createMiddleware } from 'hono/factory'
import type { EdgeEnv, EdgeObservability } from '../types.ts'
import type { RequestRecord } from './record.ts'
import { routeOf } from './route.ts'

const roundMs = (ms: number) => Math.round(ms * 10) / 10

/**
 * Outermost middleware: times the request and, once the answer (error answers included) is known,
 * writes one JSON log line and hands the same record to every sink. The cache, rate-limit and
 * origin steps leave their part in context variables (see EdgeEnv).
 */
export const observe = ({
  metrics,
  sinks = [],
  log = console.log,
  clock = () => performance.now(),
}: EdgeObservability = {}) => {
  const destinations = metrics ? [metrics, ...sinks] : sinks
  return createMiddleware<EdgeEnv>(async (c, next) => {
    const started = clock()
    await next()
    const origin = c.get('originTiming')
    const entry: RequestRecord = {
      requestId: c.get('requestId') ?? '',
      method: c.req.method,
      route: routeOf(c.req.path),
      status: c.res.status,
      durationMs: roundMs(clock() - started),
      cache: c.get('cacheResult') ?? 'none',
      limiter: c.get('rateLimit') ?? 'none',
      originMs: origin ? roundMs(origin.ms) : null,
      originFailed: origin?.failed ?? false,
    }
    log(JSON.stringify({ level: 'info', msg: 'request', time: new Date().toISOString(), ...entry }))
    for (const sink of destinations) {
      try {
        sink.record(entry)
      } catch (err) {
        // Losing a data point must never cost the caller the answer.
        console.error(`edge: metrics sink failed: ${(err as Error).message}`)
      }
    }
  })
}
