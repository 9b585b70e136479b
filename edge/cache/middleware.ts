import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { merchantPageVersionKey } from '../../shared/merchant-page-version.ts'
import { isMerchantPage, merchantPageId } from '../routes.ts'
import type { EdgeEnv } from '../types.ts'
import type { CachedResponse, CacheStore } from './store.ts'

export interface CacheStats {
  hits: number
  misses: number
}

// Per request or per caller, or rewritten on the way out, so never part of a stored copy.
const UNCACHED_HEADERS = new Set(['x-request-id', 'date', 'set-cookie', 'retry-after', 'cache-control'])
const KEY_ORIGIN = 'https://edge-cache.invalid'

const cacheable = (c: { req: { method: string; raw: Request } }, path: string) =>
  c.req.method === 'GET' &&
  isMerchantPage(c.req.method, path) &&
  !c.req.raw.headers.has('authorization') &&
  !c.req.raw.headers.has('cookie')

function storable(res: Response): boolean {
  if (res.status !== 200 || res.headers.has('set-cookie')) return false
  return !/\b(private|no-store|no-cache)\b/i.test(res.headers.get('cache-control') ?? '')
}

function maxAgeOf(res: Response): number | undefined {
  const match = /\bmax-age=(\d+)/i.exec(res.headers.get('cache-control') ?? '')
  return match ? Number(match[1]) : undefined
}

function toResponse(entry: CachedResponse, remainingS: number): Response {
  const headers = new Headers(entry.headers)
  headers.set('x-cache', 'HIT')
  // A browser or CDN keeps it no longer than the edge will, so a purge here is a purge everywhere.
  headers.set('cache-control', `public, max-age=${remainingS}`)
  return new Response(entry.body, { status: entry.status, headers })
}

/** The Redis key of the page version a cacheable request needs; read along with its rate limit. */
export const pageVersionKey = (c: Context<EdgeEnv>): string | undefined => {
  const { path } = c.get('target')
  return cacheable(c, path) ? merchantPageVersionKey(merchantPageId(path)!) : undefined
}

/**
 * Public merchant pages only: anything carrying credentials or answered per caller goes straight on.
 * The key holds the version the origin bumps on every change of the merchant (status, profile,
 * rule), so a suspension takes the cached page out at once on every isolate and data centre.
 */
export const publicCache = (store: CacheStore, ttlS: number, now: () => number, stats: CacheStats) =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    const { path, query } = c.get('target')
    if (!cacheable(c, path)) return next()
    const version = c.get('pageVersion')
    const key = version === undefined ? undefined : `${KEY_ORIGIN}/v${version}${path}${query}`
    const hit = key ? await store.get(key) : undefined
    if (hit) {
      stats.hits++
      c.set('cacheResult', 'hit')
      return toResponse(hit, Math.max(0, Math.floor((hit.expiresAt - now()) / 1000)))
    }
    stats.misses++
    c.set('cacheResult', 'miss')
    await next()
    c.res.headers.set('x-cache', 'MISS')
    if (!storable(c.res)) return
    const maxAge = Math.min(maxAgeOf(c.res) ?? ttlS, ttlS)
    c.res.headers.set('cache-control', `public, max-age=${maxAge}`)
    if (!key) return
    const headers = [...c.res.headers].filter(
      ([name]) => !UNCACHED_HEADERS.has(name) && !name.startsWith('ratelimit-') && name !== 'x-cache',
    )
    const body = await c.res.clone().arrayBuffer()
    await store.put(key, { status: c.res.status, headers, body, expiresAt: now() + ttlS * 1000 })
  })
