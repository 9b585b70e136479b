import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { AppError } from '../../shared/errors.ts'
import type { EdgeConfig } from '../config.ts'
import { isLogin, isWrite } from '../routes.ts'
import type { EdgeEnv, EdgeUser } from '../types.ts'
import type { CounterState, RateLimitDecision, RateLimiter, RateLimitRule } from './limiter.ts'

const KEY_PREFIX = 'edge:rl:'
const MINUTE_S = 60

/** Every limit that applies to this request (API.md §7): per IP always, login per IP, writes per user. */
export function rulesFor(
  method: string,
  path: string,
  clientIp: string,
  user: EdgeUser | undefined,
  config: EdgeConfig,
): RateLimitRule[] {
  const rules: RateLimitRule[] = [
    {
      key: `${KEY_PREFIX}ip:${clientIp}`,
      limit: config.RATE_LIMIT_IP_MAX,
      windowS: config.RATE_LIMIT_IP_WINDOW_S,
    },
  ]
  if (isLogin(method, path))
    rules.push({
      key: `${KEY_PREFIX}login:${clientIp}`,
      limit: config.RATE_LIMIT_LOGIN_MAX,
      windowS: MINUTE_S,
    })
  if (user && isWrite(method))
    rules.push({
      key: `${KEY_PREFIX}write:${user.id}`,
      limit: config.RATE_LIMIT_WRITE_MAX,
      windowS: MINUTE_S,
    })
  return rules
}

const remaining = (s: CounterState) => Math.max(0, s.rule.limit - s.count)
const resetS = (s: CounterState) => Math.max(1, Math.ceil(s.resetMs / 1000))

/** The counter the caller should watch: the one that refused, else the one closest to refusing. */
function bindingCounter(decision: RateLimitDecision): CounterState {
  const refusing = decision.counters.filter((s) => s.count >= s.rule.limit)
  if (!decision.allowed && refusing.length) return refusing.reduce((a, b) => (b.resetMs > a.resetMs ? b : a))
  return decision.counters.reduce((a, b) => (remaining(b) < remaining(a) ? b : a))
}

export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  const s = bindingCounter(decision)
  const headers: Record<string, string> = {
    'ratelimit-limit': String(s.rule.limit),
    'ratelimit-remaining': String(remaining(s)),
    'ratelimit-reset': String(resetS(s)),
  }
  if (!decision.allowed) headers['retry-after'] = String(resetS(s))
  return headers
}

/**
 * `pageVersionKey` names the Redis key of the page version a cacheable read needs: it is read in the
 * limiter's round trip and left as `pageVersion` (undefined when unreadable: the page is then
 * served fresh, never from a copy a status change may have invalidated).
 */
export const rateLimit = (
  config: EdgeConfig,
  limiter: RateLimiter,
  pageVersionKey: (c: Context<EdgeEnv>) => string | undefined,
) =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    const rules = rulesFor(c.req.method, c.get('target').path, c.get('clientIp'), c.get('user'), config)
    const versionKey = pageVersionKey(c)
    const decision = await limiter.check(rules, versionKey)
    if (versionKey !== undefined && decision.read !== undefined) c.set('pageVersion', decision.read ?? '0')
    c.set('rateLimit', decision.allowed ? 'allowed' : 'limited')
    const headers = rateLimitHeaders(decision)
    if (!decision.allowed)
      throw new AppError('RATE_LIMITED', 'Too many requests, slow down', undefined, headers)
    await next()
    // The origin's own rate-limit headers, if it sent any, are the more specific answer.
    for (const [name, value] of Object.entries(headers))
      if (!c.res.headers.has(name)) c.res.headers.set(name, value)
  })
