import { createMiddleware } from 'hono/factory'
import { verify } from 'hono/jwt'
import { AppError } from '../shared/errors.ts'
import { hs256VerifyKey } from '../shared/jwt-key.ts'
import { needsUser } from './routes.ts'
import type { EdgeEnv, EdgeUser } from './types.ts'

/** Checks a bearer token the way the origin issues it: HS256 only, `sub` and `exp` present. */
export async function verifyBearer(
  header: string | undefined,
  secret: string,
): Promise<EdgeUser | undefined> {
  const match = /^Bearer ([^\s]+)$/i.exec(header ?? '')
  if (!match) return undefined
  try {
    // Pinning the algorithm is what refuses `alg: none` and RS/HS confusion.
    const payload = await verify(match[1]!, await hs256VerifyKey(secret), { alg: 'HS256' })
    if (typeof payload.sub !== 'string' || !payload.sub || typeof payload.exp !== 'number') return undefined
    return { id: payload.sub }
  } catch {
    return undefined
  }
}

/** Finds the caller on routes that need one; the 401 waits until the rate limit has counted the request. */
export const identifyUser = (secret: string) =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    c.set(
      'user',
      needsUser(c.req.method, c.get('target').path)
        ? await verifyBearer(c.req.header('authorization'), secret)
        : undefined,
    )
    await next()
  })

export const requireUser = () =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    if (needsUser(c.req.method, c.get('target').path) && !c.get('user'))
      throw new AppError('UNAUTHENTICATED', 'A valid bearer token is required', undefined, {
        'www-authenticate': 'Bearer',
      })
    await next()
  })
