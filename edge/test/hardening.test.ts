/**
 * Issue 15's edge findings other than the path tricks (those are in path-attacks.test.ts), on both
 * runtimes: limits on every path the edge answers, one request-id alphabet, the client address only
 * from a trusted CF-Connecting-IP, and a merchant page taken out of the cache the moment the origin
 * bumps its version — with no browser told to keep it longer than the edge would.
 */
import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { merchantPageVersionKey } from '../../shared/merchant-page-version.ts'
import {
  deadUrl,
  type EdgeHandle,
  edgeEnv,
  type OriginHandle,
  type OwnRedis,
  ownRedis,
  type Runtime,
  randomIp,
  startEdge,
  startOrigin,
} from './support/harness.ts'

const IP_LIMIT = 4
let origin: OriginHandle
/** Low per-IP limit; the Deno one counts in its own isolate (its callers all share 127.0.0.1). */
const limited = {} as Record<Runtime, EdgeHandle>
/**
 * Limits out of the way, on a Redis database of their own (page versions live there): their
 * 127.0.0.1 traffic must not count against the limits other files count exactly.
 */
const edges = {} as Record<Runtime, EdgeHandle>
let untrustingWorkerd: EdgeHandle
let own: OwnRedis
const redis = () =>
  new Redis({
    url: own.env.UPSTASH_REDIS_REST_URL,
    token: own.env.UPSTASH_REDIS_REST_TOKEN,
    automaticDeserialization: false,
  })

beforeAll(async () => {
  origin = await startOrigin()
  const low = edgeEnv(origin.url, { RATE_LIMIT_IP_MAX: String(IP_LIMIT) })
  own = await ownRedis(6)
  const high = edgeEnv(origin.url, { RATE_LIMIT_IP_MAX: '100000', ...own.env })
  ;[limited.workerd, limited.deno, edges.workerd, edges.deno, untrustingWorkerd] = await Promise.all([
    startEdge('workerd', low),
    startEdge('deno', { ...low, UPSTASH_REDIS_REST_URL: await deadUrl() }),
    startEdge('workerd', high),
    startEdge('deno', high),
    startEdge('workerd', { ...low, TRUST_CF_CONNECTING_IP: 'false' }),
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all(
    [limited.workerd, limited.deno, edges.workerd, edges.deno, untrustingWorkerd].map((e) => e?.close()),
  )
  await origin?.close()
  await own?.close()
})

describe.each(['workerd', 'deno'] as const)('%s edge', (runtime) => {
  it('counts every path it answers against the per-IP limit: docs, unknown paths, health', async () => {
    // On Deno every test caller is 127.0.0.1, so the budget is spent on the first path and the
    // others must be refused outright: a path that escaped the limiter would answer.
    for (const path of ['/openapi.json', '/docs', '/no/such/path', '/health', '/api/payment/callback']) {
      const ip = randomIp()
      const statuses: number[] = []
      for (let i = 0; i < IP_LIMIT + 2; i++) {
        const res = await fetch(`${limited[runtime].url}${path}`, {
          method: path.includes('callback') ? 'POST' : 'GET',
          headers: { 'cf-connecting-ip': ip },
          body: path.includes('callback') ? '{}' : undefined,
        })
        statuses.push(res.status)
        if (res.status === 429) {
          expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED')
        } else await res.arrayBuffer()
      }
      expect(statuses.slice(-2), `${path}: ${statuses}`).toEqual([429, 429])
    }
  })

  it('echoes a request id of the shared alphabet and replaces any other, header and body alike', async () => {
    for (const [given, kept] of [
      ['abc-DEF_1.2:3', true],
      ['x'.repeat(128), true],
      ['x'.repeat(129), false],
      ['has space', false],
      ['semi;colon', false],
      ['slash/y', false],
      ['<script>', false],
    ] as const) {
      const res = await fetch(`${edges[runtime].url}/api/me`, {
        headers: { 'x-request-id': given, 'cf-connecting-ip': randomIp() },
      })
      const id = res.headers.get('x-request-id')!
      const body = (await res.json()) as { requestId: string }
      expect(body.requestId).toBe(id)
      if (kept) expect(id).toBe(given)
      else expect(id).toMatch(/^[0-9a-f-]{36}$/)
    }
  })
})

describe('client address on workerd', () => {
  it('ignores a client-sent CF-Connecting-IP unless TRUST_CF_CONNECTING_IP=true', async () => {
    const statuses: number[] = []
    for (let i = 0; i < IP_LIMIT + 3; i++) {
      const res = await fetch(`${untrustingWorkerd.url}/api/merchants/m-${i}`, {
        headers: { 'cf-connecting-ip': `198.51.100.${i + 1}` },
      })
      statuses.push(res.status)
      await res.arrayBuffer()
    }
    expect(statuses.filter((s) => s === 429).length, String(statuses)).toBeGreaterThanOrEqual(3)
  })
})

describe.each(['workerd', 'deno'] as const)('merchant page cache on %s', (runtime) => {
  const get = (id: string) =>
    fetch(`${edges[runtime].url}/api/merchants/${id}`, { headers: { 'cf-connecting-ip': randomIp() } })

  it('drops the cached page at once when the origin bumps the merchant version', async () => {
    const id = `m-${crypto.randomUUID()}`
    const first = await get(id)
    const firstSerial = ((await first.json()) as { serial: number }).serial
    expect(first.headers.get('x-cache')).toBe('MISS')
    const again = await get(id)
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(((await again.json()) as { serial: number }).serial).toBe(firstSerial)

    await redis().incr(merchantPageVersionKey(id))
    const after = await get(id)
    expect(after.headers.get('x-cache')).toBe('MISS')
    expect(((await after.json()) as { serial: number }).serial).toBeGreaterThan(firstSerial)
    expect((await get(id)).headers.get('x-cache')).toBe('HIT')
  })

  it('never tells a browser to keep a page longer than the edge has left of its own TTL', async () => {
    const id = `m-${crypto.randomUUID()}`
    const miss = await get(id)
    await miss.arrayBuffer()
    expect(miss.headers.get('cache-control')).toBe('public, max-age=30')
    await new Promise((r) => setTimeout(r, 2_100))
    const hit = await get(id)
    await hit.arrayBuffer()
    expect(hit.headers.get('x-cache')).toBe('HIT')
    const maxAge = Number(/max-age=(\d+)/.exec(hit.headers.get('cache-control') ?? '')?.[1])
    expect(maxAge).toBeLessThanOrEqual(28)
    expect(maxAge).toBeGreaterThanOrEqual(26)
  })
})
