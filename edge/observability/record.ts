/** What the edge remembers about one request, for its log line and its counters. */
export type CacheResult = 'hit' | 'miss' | 'none'
export type LimiterDecision = 'allowed' | 'limited' | 'none'

export interface RequestRecord {
  requestId: string
  method: string
  /** The route template (`/api/orders/:id`), never the raw path: gift codes in paths are secrets. */
  route: string
  status: number
  durationMs: number
  /** `none`: not a cacheable request (only public merchant pages are). */
  cache: CacheResult
  /** `none`: no limit applies (health, WeChat callbacks, /metrics). */
  limiter: LimiterDecision
  /** Time to the origin's whole answer; null when the origin was not asked (cache hit, 429, …). */
  originMs: number | null
  /** True when the origin did not answer (refused, timed out): the client got 503. */
  originFailed: boolean
}

/** Anything that wants each finished request: the counters behind /metrics, Analytics Engine. */
export interface RequestSink {
  record(entry: RequestRecord): void
}
