/** Bearer JWT (HS256) for users, and role checks that read roles fresh from the database. */

import { createMiddleware } from 'hono/factory'
import { sign, verify } from 'hono/jwt'
import { AppError } from '../../shared/errors.ts'
import { hs256VerifyKey } from '../../shared/jwt-key.ts'
import type { Role } from '../../shared/schemas.ts'
import { type Identity, identityOf } from '../services/users.ts'
import type { AppEnv, OriginDeps } from './context.ts'

export const TOKEN_TTL_SECONDS = 2 * 3600

export async function issueToken(secret: string, identity: Identity, nowSeconds: number) {
  const exp = nowSeconds + TOKEN_TTL_SECONDS
  const token = await sign(
    {
      sub: String(identity.userId),
      roles: identity.roles,
      merchantId: identity.merchantId === null ? null : String(identity.merchantId),
      iat: nowSeconds,
      exp,
    },
    secret,
    'HS256',
  )
  return { token, expiresAt: new Date(exp * 1000).toISOString() }
}

export function requireUser(secret: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header)
    if (!match) throw new AppError('UNAUTHENTICATED', 'a Bearer token is required')
    let sub: unknown
    try {
      const payload = await verify(match[1]!, await hs256VerifyKey(secret), 'HS256')
      // hono/jwt checks exp only when present; a token without one would never expire.
      if (typeof payload.exp !== 'number') throw new Error('token has no exp')
      sub = payload.sub
    } catch {
      throw new AppError('UNAUTHENTICATED', 'the token is invalid or expired')
    }
    if (typeof sub !== 'string' || !/^[1-9][0-9]{0,17}$/.test(sub)) {
      throw new AppError('UNAUTHENTICATED', 'the token is invalid')
    }
    c.set('userId', Number(sub))
    await next()
  })
}

/** Loads the caller's identity and requires one of `roles`. Must follow requireUser. */
export function requireRole(deps: Pick<OriginDeps, 'db' | 'config'>, ...roles: Role[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const identity = await identityOf(deps.db.primary, c.get('userId'), deps.config.ADMIN_OPENIDS)
    if (!identity) throw new AppError('UNAUTHENTICATED', 'the token names no user')
    if (!roles.some((r) => identity.roles.includes(r))) {
      throw new AppError('FORBIDDEN', `requires role ${roles.join(' or ')}`)
    }
    c.set('identity', identity)
    await next()
  })
}
