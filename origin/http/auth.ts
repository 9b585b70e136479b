/** Bearer JWT (HS256) for users, and role checks that read roles fresh from the database. */

import { createMiddleware } from 'hono/factory'
import { sign, verify } from 'hono/jwt'
import { AppError } from '../../shared/errors.ts'
import { hs256VerifyKey } from '../../shared/jwt-key.ts'
import type { Role } from '../../shared/schemas.ts'
import { type Identity, identityOf } from '../services/users.ts'
import type { AppEnv, OriginDeps } from './context.ts'

export const TOKEN_TTL_SECONDS = 2 * 3600
/** A console login (API.md §17) lasts a working day rather than a mini-program session. */
export const CONSOLE_TOKEN_TTL_SECONDS = 8 * 3600

export async function issueToken(
  secret: string,
  identity: Identity,
  nowSeconds: number,
  ttlSeconds = TOKEN_TTL_SECONDS,
) {
  const exp = nowSeconds + ttlSeconds
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

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Verifies the bearer token and loads the caller's row, roles included, fresh from the primary: a
 * token outlives nothing it names, so a user row that is gone or deleted gets 401 on every
 * authenticated route rather than reaching a service that would write for it (API.md §16, "real
 * users only"). A frozen user (API.md §14) may read; every write answers 403 ACCOUNT_FROZEN.
 */
export function requireUser(deps: Pick<OriginDeps, 'db' | 'config'>) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header)
    if (!match) throw new AppError('UNAUTHENTICATED', 'a Bearer token is required')
    let sub: unknown
    try {
      const payload = await verify(match[1]!, await hs256VerifyKey(deps.config.JWT_SECRET), 'HS256')
      // hono/jwt checks exp only when present; a token without one would never expire.
      if (typeof payload.exp !== 'number') throw new Error('token has no exp')
      sub = payload.sub
    } catch {
      throw new AppError('UNAUTHENTICATED', 'the token is invalid or expired')
    }
    if (typeof sub !== 'string' || !/^[1-9][0-9]{0,17}$/.test(sub)) {
      throw new AppError('UNAUTHENTICATED', 'the token is invalid')
    }
    const identity = await identityOf(deps.db.primary, Number(sub), deps.config.ADMIN_OPENIDS)
    if (!identity) throw new AppError('UNAUTHENTICATED', 'the token names no user')
    if (identity.frozen && !READ_METHODS.has(c.req.method)) {
      throw new AppError('ACCOUNT_FROZEN', 'this account is frozen: it may read but not write')
    }
    c.set('userId', identity.userId)
    c.set('identity', identity)
    await next()
  })
}

/** Requires one of `roles` of the identity requireUser loaded. */
export function requireRole(...roles: Role[]) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!roles.some((r) => c.get('identity').roles.includes(r))) {
      throw new AppError('FORBIDDEN', `requires role ${roles.join(' or ')}`)
    }
    await next()
  })
}
