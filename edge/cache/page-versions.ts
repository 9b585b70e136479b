import type { PageVersions } from '../types.ts'

/**
 * Page-version reads that stop asking a failing Redis for `cooldownMs` after a failure, as the rate
 * limiter does: during an outage each merchant-page read then fails at once (and is served fresh
 * from the origin) instead of waiting out the Redis time-out, and the outage is logged once, not
 * once per read.
 */
export function withCooldown(
  read: PageVersions,
  now: () => number,
  log: (line: string) => void = console.error,
  cooldownMs = 5_000,
): PageVersions {
  let downUntil = 0
  return async (merchantId) => {
    if (now() < downUntil) throw new Error('page versions unavailable (cooling down after a failure)')
    try {
      return await read(merchantId)
    } catch (err) {
      downUntil = now() + cooldownMs
      log(
        `edge: page versions unavailable for ${cooldownMs} ms, serving merchant pages fresh: ${(err as Error).message}`,
      )
      throw err
    }
  }
}
