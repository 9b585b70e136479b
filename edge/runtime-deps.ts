import { Redis } from '@upstash/redis/cloudflare'
import { merchantPageVersionKey } from '../shared/merchant-page-version.ts'
import { CacheApiStore } from './cache/cache-api-store.ts'
import { MemoryCacheStore } from './cache/memory-store.ts'
import { withCooldown } from './cache/page-versions.ts'
import { TieredCacheStore } from './cache/tiered-store.ts'
import type { EdgeConfig } from './config.ts'
import { FailoverRateLimiter } from './rate-limit/failover-limiter.ts'
import { MemoryRateLimiter } from './rate-limit/memory-limiter.ts'
import { RedisRateLimiter } from './rate-limit/redis-limiter.ts'
import type { EdgeDeps } from './types.ts'

/** The production wiring both runtime entries share; they differ only in where the client IP comes from. */
export function runtimeDeps(config: EdgeConfig, clientIp: EdgeDeps['clientIp']): EdgeDeps {
  const now = () => Date.now()
  // The web-standard build of the SDK: no Node globals, so it runs on workerd and Deno alike.
  const redis = new Redis({
    url: config.UPSTASH_REDIS_REST_URL,
    token: config.UPSTASH_REDIS_REST_TOKEN,
    // The fallback limiter is the retry: a slow Redis must not hold requests up.
    retry: false,
    signal: () => AbortSignal.timeout(config.REDIS_TIMEOUT_MS),
    enableTelemetry: false,
    enableAutoPipelining: false,
    readYourWrites: false,
    automaticDeserialization: false,
  })
  const rateLimiter = new FailoverRateLimiter(new RedisRateLimiter(redis), new MemoryRateLimiter(now), {
    now,
  })
  const caches = typeof globalThis.caches === 'undefined' ? [] : [new CacheApiStore(now)]
  return {
    config,
    rateLimiter,
    cache: new TieredCacheStore([new MemoryCacheStore(now), ...caches]),
    pageVersions: withCooldown((merchantId) => redis.get<string>(merchantPageVersionKey(merchantId)), now),
    // Called through a closure: workerd refuses a fetch detached from globalThis.
    fetchOrigin: (request) => fetch(request),
    now,
    clientIp,
  }
}
