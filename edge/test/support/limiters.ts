import type { RateLimiter } from '../../rate-limit/limiter.ts'

/**
 * A limiter that answers every read along with "no such key", as Redis does for a merchant whose
 * page never changed: what the Redis limiter does, without Redis, so merchant pages are cached.
 */
export const readingNoVersions = (limiter: RateLimiter): RateLimiter => ({
  async check(rules, alsoRead) {
    const decision = await limiter.check(rules)
    return alsoRead === undefined ? decision : { ...decision, read: null }
  },
})
