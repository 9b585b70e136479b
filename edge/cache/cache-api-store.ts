import type { CachedResponse, CacheStore } from './store.ts'

const EXPIRES_HEADER = 'x-edge-expires-at'

/**
 * The runtime's Cache API (per data centre on Workers, on disk under DENO_DIR on Deno). Deno ignores
 * max-age, so the expiry travels in a header of the stored copy and is checked here.
 */
export class CacheApiStore implements CacheStore {
  private cache: Promise<Cache> | undefined

  constructor(
    private readonly now: () => number,
    private readonly cacheName = 'edge-public-v1',
  ) {}

  private open(): Promise<Cache> {
    this.cache ??= caches.open(this.cacheName)
    return this.cache
  }

  async get(key: string): Promise<CachedResponse | undefined> {
    const cache = await this.open()
    const res = await cache.match(key)
    if (!res) return undefined
    const expiresAt = Number(res.headers.get(EXPIRES_HEADER))
    if (!(expiresAt > this.now())) {
      await res.body?.cancel()
      await cache.delete(key)
      return undefined
    }
    const headers = [...res.headers].filter(([name]) => name !== EXPIRES_HEADER && name !== 'cache-control')
    return { status: res.status, headers, body: await res.arrayBuffer(), expiresAt }
  }

  async put(key: string, entry: CachedResponse): Promise<void> {
    const ttlS = Math.max(1, Math.ceil((entry.expiresAt - this.now()) / 1000))
    const headers = new Headers(entry.headers)
    headers.set(EXPIRES_HEADER, String(entry.expiresAt))
    // workerd only stores what Cache-Control allows; the entry's own expiry is what counts.
    headers.set('cache-control', `public, max-age=${ttlS}`)
    await (await this.open()).put(key, new Response(entry.body, { status: entry.status, headers }))
  }
}
