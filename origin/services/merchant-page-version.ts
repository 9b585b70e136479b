/**
 * Tells the edge that a merchant's public page changed (API.md §16): the edge puts the value of
 * `edge:merchant-version:<id>` into its cache key, so one INCR here makes every cached copy of the
 * page unreachable at once, on every edge that shares the Redis. Called after the change commits,
 * so an edge that misses on the new key reads the new row.
 */
import type { Redis } from 'ioredis'
import { merchantPageVersionKey } from '../../shared/merchant-page-version.ts'
import type { Logger } from '../obs/logger.ts'

export const merchantVersionKey = (merchantId: number) => merchantPageVersionKey(String(merchantId))

/**
 * A Redis failure does not fail the request whose change already committed: the cached page then
 * lives out its short TTL, which is logged so the gap is visible.
 */
export async function bumpMerchantPageVersion(
  deps: { redis: Pick<Redis, 'incr'>; log: Logger },
  merchantId: number,
): Promise<void> {
  try {
    await deps.redis.incr(merchantVersionKey(merchantId))
  } catch (err) {
    deps.log.warn('merchant page version not bumped; the edge serves its cached copy until it expires', {
      merchantId,
      error: (err as Error).message,
    })
  }
}
