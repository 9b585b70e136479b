import type { RateLimitDecision, RateLimiter, RateLimitRule } from './limiter.ts'

export interface FailoverOptions {
  now: () => number
  /** After a failure, skip the primary for this long so a dead Redis does not add its time-out to every request. */
  cooldownMs?: number
  log?: (line: string) => void
}

/**
 * Uses the primary (Redis) and, when it fails or times out, the fallback (per-isolate memory):
 * rate limiting degrades to "approximately right" instead of taking the API down with Redis.
 */
export class FailoverRateLimiter implements RateLimiter {
  private primaryDownUntil = 0

  constructor(
    private readonly primary: RateLimiter,
    private readonly fallback: RateLimiter,
    private readonly options: FailoverOptions,
  ) {}

  /** The fallback cannot read shared state: after a failure the decision carries no `read`. */
  async check(rules: RateLimitRule[], alsoRead?: string): Promise<RateLimitDecision> {
    if (this.options.now() >= this.primaryDownUntil) {
      try {
        return await this.primary.check(rules, alsoRead)
      } catch (err) {
        this.primaryDownUntil = this.options.now() + (this.options.cooldownMs ?? 5_000)
        const log = this.options.log ?? console.error
        log(
          `edge: rate-limit store unavailable, using the in-memory limiter for now: ${(err as Error).message}`,
        )
      }
    }
    return this.fallback.check(rules)
  }
}
