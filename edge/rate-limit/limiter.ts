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
}

/**
 * Checks all rules of a request at once and counts the request only when every rule allows it,
 * so a request refused by one limit does not eat into the others.
 */
export interface RateLimiter {
  check(rules: RateLimitRule[]): Promise<RateLimitDecision>
}
