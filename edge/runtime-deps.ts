import { CacheApiStore } from './cache/cache-api-store.ts'
import { MemoryCacheStore } from './cache/memory-store.ts'
import { TieredCacheStore } from './cache/tiered-store.ts'
import type { EdgeConfig } from './config.ts'
import { FailoverRateLimiter } from './rate-limit/failover-limiter.ts'
import { MemoryRateLimiter } from './rate-limit/memory-limiter.ts'
import { RedisRateLimiter } from './rate-limit/redis-limiter.ts'
import { UpstashRest } from './redis-rest.ts'
import type { EdgeDeps } from './types.ts'

/** The production wiring both runtime entries share; they differ only in where the client IP comes from. */
export function runtimeDeps(config: EdgeConfig, clientIp: EdgeDeps['clientIp']): EdgeDeps {
  const now = () => Date.now()
  const redis = new UpstashRest(
    config.UPSTASH_REDIS_REST_URL,
    config.UPSTASH_REDIS_REST_TOKEN,
    config.REDIS_TIMEOUT_MS,
  )
  const rateLimiter = new FailoverRateLimiter(new RedisRateLimiter(redis), new MemoryRateLimiter(now), {
    now,
  })
  const caches = typeof globalThis.caches === 'undefined' ? [] : [new CacheApiStore(now)]
  return {
    config,
    rateLimiter,
    cache: new TieredCacheStore([new MemoryCacheStore(now), ...caches]),
    // Called through a closure: workerd refuses a fetch detached from globalThis.
    fetchOrigin: (request) => fetch(request),
    now,
    clientIp,
  }
}
