/** One counter a request must pass: at most `limit` requests per `windowS` for `key`. */
export interface RateLimitRule {
  key: string
  limit: number
  windowS: number
}

export interface CounterState {
  rule: RateLimitRule
  /** Requests counted in the current window, this one included when it was allowed. */
  count: number
  /** Milliseconds until the window resets. */
  resetMs: number
}

export interface RateLimitDecision {
  allowed: boolean
  counters: CounterState[]
  /**
   * The value of the key asked for with `alsoRead` (null: no such key), read in the same round
   * trip as the counters. Absent when it was not asked for or the limiter cannot read shared
   * state (the per-isolate fallback): the caller must then not rely on it.
   */
  read?: string | null
}

/**
 * Checks all rules of a request at once and counts the request only when every rule allows it,
 * so a request refused by one limit does not eat into the others. `alsoRead` names one more key
 * to read along (a merchant page's version), so a cached read costs one round trip, not two.
 */
export interface RateLimiter {
  check(rules: RateLimitRule[], alsoRead?: string): Promise<RateLimitDecision>
}
