/** A cached response with its expiry inside, so no runtime's own expiry rules are relied on. */
export interface CachedResponse {
  status: number
  headers: [string, string][]
  body: ArrayBuffer
  /** Milliseconds since the epoch after which the entry is a miss. */
  expiresAt: number
}

export interface CacheStore {
  get(key: string): Promise<CachedResponse | undefined>
  put(key: string, entry: CachedResponse): Promise<void>
}
