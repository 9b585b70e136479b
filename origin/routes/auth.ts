import { createRoute } from '@hono/zod-openapi'
import { AppError } from '../../shared/errors.ts'
import { LoginRequest } from '../../shared/schemas.ts'
import { issueToken } from '../http/auth.ts'
import type { OriginDeps } from '../http/context.ts'
import { router } from '../http/openapi.ts'
import { identityOf, upsertUserByOpenid } from '../services/users.ts'
import { WechatApiError } from '../wechat/errors.ts'
import { body, errors, json, LoginResponse } from './components.ts'

const login = createRoute({
  method: 'post',
  path: '/login',
  operationId: 'login',
  summary: 'Log in with a wx.login code',
  tags: ['auth'],
  request: { body: body(LoginRequest) },
  responses: {
    200: json(LoginResponse, 'A bearer token for the caller'),
    ...errors(400, 401, 413, 429, 502, 503),
  },
})

export function authRoutes(deps: OriginDeps) {
  return router().openapi(login, async (c) => {
    const { code } = c.req.valid('json')
    const session = await deps.mini.code2Session(code).catch((err: unknown) => {
      if (err instanceof WechatApiError && err.kind === 'INVALID_CODE') {
        throw new AppError('UNAUTHENTICATED', 'WeChat did not accept this login code; call wx.login again', {
          field: 'code',
        })
      }
      if (err instanceof WechatApiError)
        throw new AppError('PAYMENT_PROVIDER_ERROR', 'WeChat login is unavailable')
      throw err
    })
    const userId = await upsertUserByOpenid(deps.db.primary, session, new Date())
    const identity = await identityOf(deps.db.primary, userId, deps.config.ADMIN_OPENIDS)
    if (!identity) throw new AppError('INTERNAL', 'user vanished during login')
    const { token, expiresAt } = await issueToken(
      deps.config.JWT_SECRET,
      identity,
      Math.floor(Date.now() / 1000),
    )
    return c.json(
      {
        token,
        expiresAt,
        user: {
          id: String(identity.userId),
          roles: identity.roles,
          merchantId: identity.merchantId === null ? null : String(identity.merchantId),
        },
      },
      200,
    )
  })
}
