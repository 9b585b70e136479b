/** Builds the origin's Hono app from its dependencies; the Node entry only serves it. */
import { except } from 'hono/combine'
import { AppError } from '../shared/errors.ts'
import { bodyLimit } from './http/body-limit.ts'
import type { OriginDeps } from './http/context.ts'
import { deadline } from './http/deadline.ts'
import { edgeSignature } from './http/edge-signature.ts'
import { createErrorHandler, notFound } from './http/errors.ts'
import { describeApi, router } from './http/openapi.ts'
import { requestContext } from './http/request-context.ts'
import { jsonOnly } from './http/validate.ts'
import { adminRoutes } from './routes/admin.ts'
import { authRoutes } from './routes/auth.ts'
import { consoleRoutes } from './routes/console.ts'
import { docsRoutes } from './routes/docs.ts'
import { meRoutes } from './routes/me.ts'
import { merchantConsoleRoutes } from './routes/merchant-console.ts'
import { merchantRoutes } from './routes/merchants.ts'
import { opsRoutes, type ServingState } from './routes/ops.ts'
import { orderRoutes } from './routes/orders.ts'
import { pointsRoutes } from './routes/points.ts'
import { wechatCallbackRoutes, wechatFail } from './routes/wechat-callbacks.ts'

export const MAX_BODY_BYTES = 64 * 1024
/** WeChat calls these directly: they carry WeChat's signature, never the edge's (API.md §5). */
export const WECHAT_CALLBACK_PATHS = ['/api/payment/callback', '/api/refund/callback']

export function createOriginApp(deps: OriginDeps, serving: ServingState = {}) {
  const app = router()
  app.onError(createErrorHandler(deps.log))
  app.notFound(notFound)
  app.use(requestContext(deps.log, deps.metrics))
  app.use(
    '/api/*',
    bodyLimit(MAX_BODY_BYTES, (c) => {
      if (WECHAT_CALLBACK_PATHS.includes(c.req.path)) {
        return wechatFail(c, 413, `notification body is larger than ${MAX_BODY_BYTES} bytes`)
      }
      throw new AppError('PAYLOAD_TOO_LARGE', `request body is larger than ${MAX_BODY_BYTES} bytes`)
    }),
  )
  app.use(
    '/api/*',
    except(
      WECHAT_CALLBACK_PATHS,
      deadline(deps.config.REQUEST_TIMEOUT_MS),
      edgeSignature(deps.config.EDGE_SIGNING_KEYS, deps.redis),
      jsonOnly,
    ),
  )
  app.route('/', opsRoutes(deps, serving))
  app.route(
    '/',
    docsRoutes(() => describeApi(app)),
  )
  app.route('/api/auth', authRoutes(deps))
  app.route('/api/console', consoleRoutes(deps))
  app.route('/api/me', meRoutes(deps))
  app.route('/api/merchants', merchantRoutes(deps))
  app.route('/api/points', pointsRoutes(deps))
  app.route('/api/merchant', merchantConsoleRoutes(deps))
  app.route('/api/admin', adminRoutes(deps))
  app.route('/api/orders', orderRoutes(deps))
  app.route('/api', wechatCallbackRoutes(deps))
  return app
}
