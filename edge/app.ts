import { Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { AppError } from '../shared/errors.ts'
import { identifyUser, requireUser } from './auth.ts'
import { readBody } from './body.ts'
import { type CacheStats, pageVersionKey, publicCache } from './cache/middleware.ts'
import { canonicalPath } from './canonical-path.ts'
import { consoleFile, devLoginFlag } from './console.ts'
import { errorResponse } from './error-response.ts'
import { metricsEndpoint } from './observability/metrics-endpoint.ts'
import { observe } from './observability/middleware.ts'
import { forwardToOrigin } from './origin.ts'
import { rateLimit } from './rate-limit/middleware.ts'
import { requestId } from './request-id.ts'
import { CALLBACK_PATHS, DOC_PATHS } from './routes.ts'
import { securityHeaders } from './security-headers.ts'
import type { EdgeDeps, EdgeEnv } from './types.ts'

/** Nothing in API.md comes close; WeChat notifications are a few KiB. */
export const MAX_BODY_BYTES = 64 * 1024

export function createEdgeApp(deps: EdgeDeps) {
  const { config } = deps
  const stats: CacheStats = { hits: 0, misses: 0 }
  const app = new Hono<EdgeEnv>()

  const body = readBody(MAX_BODY_BYTES)
  const clientIp = createMiddleware<EdgeEnv>(async (c, next) => {
    // Callers with no address known share one bucket rather than escaping the limit.
    c.set('clientIp', deps.clientIp(c.req.raw, c.env) ?? 'unknown')
    await next()
  })
  const signed = forwardToOrigin(deps, { signed: true })

  app.use(observe(deps.observability))
  app.use(requestId(), securityHeaders())
  app.onError((err, c) => errorResponse(c, err))
  app.notFound((c) => errorResponse(c, new AppError('NOT_FOUND', 'No such route')))

  // Every path the edge answers is counted, unknown ones included, and decided on one checked path.
  app.use(
    canonicalPath(),
    clientIp,
    identifyUser(config.JWT_SECRET, deps.now),
    rateLimit(config, deps.rateLimiter, pageVersionKey),
  )

  app.get('/health', (c) => {
    const lookups = stats.hits + stats.misses
    return c.json({ status: 'ok', cache: { ...stats, hitRatio: lookups ? stats.hits / lookups : null } })
  })

  const metrics = deps.observability?.metrics
  if (metrics && config.METRICS_TOKEN) app.get('/metrics', metricsEndpoint(metrics, config.METRICS_TOKEN))

  if (deps.consoleFiles) {
    app.get('/console', (c) => c.redirect('/console/', 301))
    app.get('/console/dev-login.json', devLoginFlag(config.CONSOLE_DEV_LOGIN === 'true'))
    app.on(['GET', 'HEAD'], '/console/*', consoleFile(deps.consoleFiles))
  }

  for (const path of CALLBACK_PATHS) app.post(path, body, forwardToOrigin(deps, { signed: false }))
  app.on(['GET', 'HEAD'], [...DOC_PATHS], body, signed)
  app.all('/api/*', body, requireUser(), publicCache(deps.cache, config.CACHE_TTL_S, deps.now, stats), signed)
  return app
}
