import { describe, expect, it, vi } from 'vitest'
import { parseConfig } from '../../config.ts'
import { FailoverRateLimiter } from '../../rate-limit/failover-limiter.ts'
import type { RateLimiter, RateLimitRule } from '../../rate-limit/limiter.ts'
import { MemoryRateLimiter } from '../../rate-limit/memory-limiter.ts'
import { rateLimitHeaders, rulesFor } from '../../rate-limit/middleware.ts'
import { needsUser } from '../../routes.ts'

const rule = (key: string, limit: number, windowS = 60): RateLimitRule => ({ key, limit, windowS })

describe('MemoryRateLimiter', () => {
  it('counts a request only when every rule allows it', async () => {
    const limiter = new MemoryRateLimiter(() => 0)
    const ip = rule('ip', 10)
    const write = rule('write', 1)
    expect((await limiter.check([ip, write])).allowed).toBe(true)
    const refused = await limiter.check([ip, write])
    expect(refused.allowed).toBe(false)
    expect(refused.counters.map((c) => c.count)).toEqual([1, 1])
  })

  it('starts a new window once the old one has passed', async () => {
    let now = 0
    const limiter = new MemoryRateLimiter(() => now)
    await limiter.check([rule('k', 1, 10)])
    expect((await limiter.check([rule('k', 1, 10)])).counters[0]!.resetMs).toBe(10_000)
    now = 10_000
    expect((await limiter.check([rule('k', 1, 10)])).allowed).toBe(true)
  })

  it('forgets the least recently counted keys beyond its bound', async () => {
    const limiter = new MemoryRateLimiter(() => 0, 2)
    for (const key of ['a', 'b', 'c']) await limiter.check([rule(key, 1)])
    expect((await limiter.check([rule('a', 1)])).allowed).toBe(true)
    expect((await limiter.check([rule('c', 1)])).allowed).toBe(false)
  })
})

describe('FailoverRateLimiter', () => {
  it('falls back when the primary fails and leaves it alone during the cool-down', async () => {
    let now = 0
    const primary: RateLimiter = { check: vi.fn().mockRejectedValue(new Error('redis down')) }
    const log = vi.fn()
    const limiter = new FailoverRateLimiter(primary, new MemoryRateLimiter(() => now), {
      now: () => now,
      cooldownMs: 1_000,
      log,
    })
    expect((await limiter.check([rule('k', 1)])).allowed).toBe(true)
    expect((await limiter.check([rule('k', 1)])).allowed).toBe(false)
    expect(primary.check).toHaveBeenCalledTimes(1)
    expect(log).toHaveBeenCalledWith(expect.stringContaining('redis down'))
    now = 1_000
    await limiter.check([rule('k', 1)])
    expect(primary.check).toHaveBeenCalledTimes(2)
  })
})

describe('rateLimitHeaders', () => {
  it('reports the counter closest to refusing, and Retry-After from the one that refused', () => {
    const allowed = rateLimitHeaders({
      allowed: true,
      counters: [
        { rule: rule('ip', 1000), count: 10, resetMs: 800_000 },
        { rule: rule('write', 60), count: 59, resetMs: 30_500 },
      ],
    })
    expect(allowed).toEqual({ 'ratelimit-limit': '60', 'ratelimit-remaining': '1', 'ratelimit-reset': '31' })
    const refused = rateLimitHeaders({
      allowed: false,
      counters: [
        { rule: rule('ip', 1000), count: 10, resetMs: 800_000 },
        { rule: rule('write', 60), count: 60, resetMs: 1_200 },
      ],
    })
    expect(refused['retry-after']).toBe('2')
    expect(refused['ratelimit-remaining']).toBe('0')
  })
})

describe('rulesFor: console login sessions (API.md §17)', () => {
  const config = parseConfig({
    ORIGIN_URL: 'http://origin.test',
    UPSTASH_REDIS_REST_URL: 'http://redis.test',
    UPSTASH_REDIS_REST_TOKEN: 't',
    JWT_SECRET: 'unit-secret',
    EDGE_SIGNING_KEY_ID: 'k1',
    EDGE_SIGNING_SECRET: 's',
  })
  const keys = (method: string, path: string) =>
    rulesFor(method, path, '192.0.2.9', undefined, config).map((r) => r.key)

  it('limits opening a session per IP as login is, and lets polls and opening through without a user', () => {
    expect(keys('POST', '/api/console/sessions')).toEqual(['edge:rl:ip:192.0.2.9', 'edge:rl:login:192.0.2.9'])
    expect(keys('GET', '/api/console/sessions/abc')).toEqual(['edge:rl:ip:192.0.2.9'])
    expect(needsUser('POST', '/api/console/sessions')).toBe(false)
    expect(needsUser('GET', '/api/console/sessions/abc')).toBe(false)
    expect(needsUser('HEAD', '/api/console/sessions/abc')).toBe(false)
    expect(needsUser('POST', '/api/console/sessions/abc/approve')).toBe(true)
    expect(needsUser('DELETE', '/api/console/sessions/abc')).toBe(true)
    expect(needsUser('GET', '/console/')).toBe(true)
  })
})

describe('FailoverRateLimiter and reads along', () => {
  it('passes the key to read to the primary and reports no read from the fallback', async () => {
    const now = 0
    let failing = false
    const primary: RateLimiter = {
      check: vi.fn(async (_rules: RateLimitRule[], alsoRead?: string) => {
        if (failing) throw new Error('redis down')
        return { allowed: true, counters: [], ...(alsoRead ? { read: '3' } : {}) }
      }),
    }
    const limiter = new FailoverRateLimiter(primary, new MemoryRateLimiter(() => now), {
      now: () => now,
      log: () => {},
    })
    expect((await limiter.check([rule('k', 5)], 'edge:version')).read).toBe('3')
    failing = true
    const fallback = await limiter.check([rule('k', 5)], 'edge:version')
    expect(fallback.allowed).toBe(true)
    expect(fallback.read).toBeUndefined()
  })
})
