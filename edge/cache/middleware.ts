import { createMiddleware } from 'hono/factory'
import { isMerchantPage } from '../routes.ts'
import type { EdgeEnv } from '../types.ts'
import type { CachedResponse, CacheStore } from './store.ts'

export interface CacheStats {
  hits: number
  misses: number
}

// Per request or per caller, so never part of a stored copy.
const UNCACHED_HEADERS = new Set(['x-request-id', 'date', 'set-cookie', 'retry-after'])
const KEY_ORIGIN = 'https://edge-cache.invalid'

const cacheable = (req: Request) =>
  req.method === 'GET' &&
  isMerchantPage(req.method, new URL(req.url).pathname) &&
  !req.headers.has('authorization') &&
  !req.headers.has('cookie')

function storable(res: Response): boolean {
  if (res.status !== 200 || res.headers.has('set-cookie')) return false
  return !/\b(private|no-store|no-cache)\b/i.test(res.headers.get('cache-control') ?? '')
}

function toResponse(entry: CachedResponse): Response {
  const headers = new Headers(entry.headers)
  headers.set('x-cache', 'HIT')
  return new Response(entry.body, { status: entry.status, headers })
}

/** Public merchant pages only: anything carrying credentials or answered per caller goes straight on. */
export const publicCache = (store: CacheStore, ttlS: number, now: () => number, stats: CacheStats) =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    if (!cacheable(c.req.raw)) return next()
    const url = new URL(c.req.url)
    const key = `${KEY_ORIGIN}${url.pathname}${url.search}`
    const hit = await store.get(key)
    if (hit) {
      stats.hits++
      c.set('cacheResult', 'hit')
      return toResponse(hit)
    }
    stats.misses++
    c.set('cacheResult', 'miss')
    await next()
    c.res.headers.set('x-cache', 'MISS')
    if (!storable(c.res)) return
    const headers = [...c.res.headers].filter(
      ([name]) => !UNCACHED_HEADERS.has(name) && !name.startsWith('ratelimit-') && name !== 'x-cache',
    )
    const body = await c.res.clone().arrayBuffer()
    await store.put(key, { status: c.res.status, headers, body, expiresAt: now() + ttlS * 1000 })
  })
