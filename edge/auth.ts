import { createMiddleware } from 'hono/factory'
import { verify } from 'hono/jwt'
import { AppError } from '../shared/errors.ts'
import { hs256VerifyKey } from '../shared/jwt-key.ts'
import { needsUser } from './routes.ts'
import type { EdgeEnv, EdgeUser } from './types.ts'

const BEARER = /^Bearer ([^\s]+)$/i

/** Checks a bearer token the way the origin issues it: HS256 only, `sub` and `exp` present. */
async function verifyBearer(
  header: string | undefined,
  secret: string,
): Promise<(EdgeUser & { expS: number }) | undefined> {
  const match = BEARER.exec(header ?? '')
  if (!match) return undefined
  try {
    // Pinning the algorithm is what refuses `alg: none` and RS/HS confusion.
    const payload = await verify(match[1]!, await hs256VerifyKey(secret), { alg: 'HS256' })
    if (typeof payload.sub !== 'string' || !payload.sub || typeof payload.exp !== 'number') return undefined
    return { id: payload.sub, expS: payload.exp }
  } catch {
    return undefined
  }
}

/**
 * Tokens this isolate has verified, until their `exp`: a user's next requests skip the HMAC check
 * (a token is the same string for its two hours). Only ever holds tokens that passed verification,
 * keyed by the whole token, so nothing unverified is trusted; bounded, oldest out first.
 */
export class VerifiedTokens {
  private readonly tokens = new Map<string, { user: EdgeUser; expMs: number }>()

  constructor(
    private readonly now: () => number,
    private readonly maxTokens = 10_000,
  ) {}

  async verify(header: string | undefined, secret: string): Promise<EdgeUser | undefined> {
    if (!header) return undefined
    const known = this.tokens.get(header)
    if (known) {
      if (this.now() < known.expMs) return known.user
      this.tokens.delete(header)
    }
    const verified = await verifyBearer(header, secret)
    if (!verified) return undefined
    const user = { id: verified.id }
    if (this.tokens.size >= this.maxTokens) this.tokens.delete(this.tokens.keys().next().value!)
    this.tokens.set(header, { user, expMs: verified.expS * 1000 })
    return user
  }
}

/** Finds the caller on routes that need one; the 401 waits until the rate limit has counted the request. */
export const identifyUser = (secret: string, now: () => number) => {
  const tokens = new VerifiedTokens(now)
  return createMiddleware<EdgeEnv>(async (c, next) => {
    c.set(
      'user',
      needsUser(c.req.method, c.get('target').path)
        ? await tokens.verify(c.req.header('authorization'), secret)
        : undefined,
    )
    await next()
  })
}

export const requireUser = () =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    if (needsUser(c.req.method, c.get('target').path) && !c.get('user'))
      throw new AppError('UNAUTHENTICATED', 'A valid bearer token is required', undefined, {
        'www-authenticate': 'Bearer',
      })
    await next()
  })
