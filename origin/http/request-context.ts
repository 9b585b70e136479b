/** Request id, one structured log line and the HTTP metrics for every request. */
import { randomUUID } from 'node:crypto'
import { createMiddleware } from 'hono/factory'
import { routePath } from 'hono/route'
import { REQUEST_ID_PATTERN } from '../../shared/request-id.ts'
import type { AppEnv } from './context.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'

export function requestContext(log: Logger, metrics: Metrics) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now()
    const given = c.req.header('x-request-id')
    const requestId = given && REQUEST_ID_PATTERN.test(given) ? given : randomUUID()
    c.set('requestId', requestId)
    // Set before the handler runs, so it is built into the response: setting a header on a finished
    // response makes @hono/node-server rebuild it as a WHATWG Response with a ReadableStream body.
    c.header('X-Request-Id', requestId)
    await next()
    const route = routePath(c)
    const seconds = (performance.now() - started) / 1000
    const status = String(c.res.status)
    metrics.httpRequests.inc({ method: c.req.method, route, status })
    metrics.httpDuration.observe({ method: c.req.method, route }, seconds)
    log.info('request', {
      requestId,
      method: c.req.method,
      route,
      status: c.res.status,
      durationMs: Math.round(seconds * 10000) / 10,
      userId: c.get('userId'),
    })
  })
}
