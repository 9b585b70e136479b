import type { RateLimitDecision, RateLimiter, RateLimitRule } from './limiter.ts'

interface Window {
  count: number
  resetAt: number
}

/**
 * Per-isolate fixed windows with the same semantics as the Redis script. Only a fallback: each
 * isolate counts on its own, so the effective limit is per isolate, not global.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, Window>()

  constructor(
    private readonly now: () => number,
    private readonly maxKeys = 10_000,
  ) {}

  async check(rules: RateLimitRule[]): Promise<RateLimitDecision> {
    const now = this.now()
    const current = rules.map((rule) => {
      const w = this.windows.get(rule.key)
      return w && w.resetAt > now ? w : { count: 0, resetAt: now + rule.windowS * 1000 }
    })
    const allowed = rules.every((rule, i) => current[i]!.count < rule.limit)
    if (allowed) {
      rules.forEach((rule, i) => {
        const w = current[i]!
        w.count++
        this.windows.delete(rule.key)
        this.windows.set(rule.key, w)
      })
      this.evict(now)
    }
    return {
      allowed,
      counters: rules.map((rule, i) => ({
        rule,
        count: current[i]!.count,
        resetMs: current[i]!.resetAt - now,
      })),
    }
  }

  // Bounded memory: drop expired windows first, then the least recently counted.
  private evict(now: number) {
    if (this.windows.size <= this.maxKeys) return
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key)
    for (const key of this.windows.keys()) {
      if (this.windows.size <= this.maxKeys) break
      this.windows.delete(key)
    }
  }
}
