import { sign } from 'hono/jwt'
import { describe, expect, it, vi } from 'vitest'
import { createEdgeApp } from '../../app.ts'
import { MemoryCacheStore } from '../../cache/memory-store.ts'
import { TieredCacheStore } from '../../cache/tiered-store.ts'
import { parseConfig } from '../../config.ts'
import { MemoryRateLimiter } from '../../rate-limit/memory-limiter.ts'
import type { EdgeDeps } from '../../types.ts'
import { readingNoVersions } from '../support/limiters.ts'

const config = parseConfig({
  ORIGIN_URL: 'http://origin.test',
  UPSTASH_REDIS_REST_URL: 'http://redis.test',
  UPSTASH_REDIS_REST_TOKEN: 't',
  JWT_SECRET: 'unit-secret',
  EDGE_SIGNING_KEY_ID: 'k1',
  EDGE_SIGNING_SECRET: 's',
  ORIGIN_TIMEOUT_MS: '50',
})

function appWith(fetchOrigin: EdgeDeps['fetchOrigin'], now = () => 1_000_000) {
  return createEdgeApp({
    config,
    rateLimiter: readingNoVersions(new MemoryRateLimiter(now)),
    cache: new MemoryCacheStore(now),
    fetchOrigin,
    now,
    clientIp: () => '192.0.2.1',
  })
}

const json = (body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json', ...headers } })

describe('edge app (Node, injected dependencies)', () => {
  it('answers 503 ORIGIN_UNAVAILABLE when the origin does not answer in time', async () => {
    const hang: EdgeDeps['fetchOrigin'] = (req) =>
      new Promise((_resolve, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason)))
    const res = await appWith(hang).request('/api/merchants/m1', { headers: { 'x-request-id': 'slow-1' } })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBeTruthy()
    expect(await res.json()).toEqual({
      error: { code: 'ORIGIN_UNAVAILABLE', message: expect.any(String) },
      requestId: 'slow-1',
    })
  })

  it('replaces a request id it would not want to echo', async () => {
    const res = await appWith(async () => json({})).request('/api/merchants/m1', {
      headers: { 'x-request-id': 'x'.repeat(500) },
    })
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('does not store responses the origin marks private or that set a cookie', async () => {
    let calls = 0
    const app = appWith(async (req) => {
      calls++
      return new URL(req.url).pathname.endsWith('private')
        ? json({ calls }, { 'cache-control': 'private' })
        : json({ calls }, { 'set-cookie': 'a=b' })
    })
    for (const path of ['/api/merchants/private', '/api/merchants/cookie']) {
      await app.request(path)
      expect((await app.request(path)).headers.get('x-cache')).toBe('MISS')
    }
    expect(calls).toBe(4)
  })

  it('keeps per-request headers out of a cached copy', async () => {
    const app = appWith(async () => json({ ok: true }, { 'x-request-id': 'from-origin', date: 'then' }))
    await app.request('/api/merchants/m2', { headers: { 'x-request-id': 'first' } })
    const hit = await app.request('/api/merchants/m2', { headers: { 'x-request-id': 'second' } })
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(hit.headers.get('x-request-id')).toBe('second')
    expect(hit.headers.get('date')).toBeNull()
  })

  it('refuses a token without exp', async () => {
    const token = await sign({ sub: 'u1' }, 'unit-secret', 'HS256')
    const res = await appWith(async () => json({})).request('/api/me', {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(res.status).toBe(401)
  })

  it('keeps a verified token only until its exp', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const token = await sign({ sub: 'u1', exp: Math.floor(Date.now() / 1000) + 60 }, 'unit-secret', 'HS256')
      const app = appWith(async () => json({ ok: true }), Date.now)
      const me = () => app.request('/api/me', { headers: { authorization: `Bearer ${token}` } })
      expect((await me()).status).toBe(200)
      expect((await me()).status).toBe(200)
      vi.setSystemTime(Date.now() + 61_000)
      expect((await me()).status).toBe(401)
    } finally {
      vi.useRealTimers()
    }
  })

  it('serves merchant pages fresh when the limiter could not read their version', async () => {
    let calls = 0
    const now = () => 1_000_000
    const app = createEdgeApp({
      config,
      rateLimiter: new MemoryRateLimiter(now),
      cache: new MemoryCacheStore(now),
      fetchOrigin: async () => json({ calls: ++calls }),
      now,
      clientIp: () => '192.0.2.1',
    })
    for (let i = 0; i < 2; i++)
      expect((await app.request('/api/merchants/m9')).headers.get('x-cache')).toBe('MISS')
    expect(calls).toBe(2)
  })
})

describe('TieredCacheStore', () => {
  it('treats a failing tier as a miss and fills the faster tier from the slower one', async () => {
    const memory = new MemoryCacheStore(() => 0)
    const broken = {
      get: () => Promise.reject(new Error('boom')),
      put: () => Promise.reject(new Error('boom')),
    }
    const backing = new MemoryCacheStore(() => 0)
    const entry = { status: 200, headers: [], body: new ArrayBuffer(0), expiresAt: 10 }
    await backing.put('k', entry)
    const store = new TieredCacheStore([memory, broken, backing], () => {})
    expect(await store.get('k')).toBe(entry)
    expect(await memory.get('k')).toBe(entry)
    await expect(store.put('k2', entry)).resolves.toBeUndefined()
  })
})
