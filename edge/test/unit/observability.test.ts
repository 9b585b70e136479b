/**
 * The edge's request record under Node: a real Hono app (createEdgeApp) in front of a real HTTP
 * origin, with the log line, the counters and the Analytics Engine layout read back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEdgeApp } from '../../app.ts'
import { MemoryCacheStore } from '../../cache/memory-store.ts'
import { parseConfig } from '../../config.ts'
import { AnalyticsEngineSink } from '../../observability/analytics-engine.ts'
import { EdgeMetrics } from '../../observability/metrics.ts'
import type { RequestRecord } from '../../observability/record.ts'
import { routeOf } from '../../observability/route.ts'
import { MemoryRateLimiter } from '../../rate-limit/memory-limiter.ts'
import { type EchoOrigin, startEchoOrigin } from '../support/echo-origin.ts'
import { deadUrl, SIGNING_KEY_ID, SIGNING_SECRET, tokenFor } from '../support/harness.ts'
import { readingNoVersions } from '../support/limiters.ts'

let origin: EchoOrigin

beforeAll(async () => {
  origin = await startEchoOrigin(SIGNING_KEY_ID, SIGNING_SECRET)
})
afterAll(() => origin?.close())

function edge(originUrl: string, overrides: Record<string, string> = {}) {
  const config = parseConfig({
    ORIGIN_URL: originUrl,
    UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1',
    UPSTASH_REDIS_REST_TOKEN: 't',
    JWT_SECRET: 'edge-test-jwt-secret-of-at-least-32-characters',
    EDGE_SIGNING_KEY_ID: SIGNING_KEY_ID,
    EDGE_SIGNING_SECRET: SIGNING_SECRET,
    ORIGIN_TIMEOUT_MS: '2000',
    RATE_LIMIT_LOGIN_MAX: '1',
    METRICS_TOKEN: 'scrape-me',
    ...overrides,
  })
  const lines: string[] = []
  const points: Parameters<AnalyticsEngineSink['record']>[0][] = []
  const written: { indexes?: string[]; blobs?: string[]; doubles?: number[] }[] = []
  const metrics = new EdgeMetrics()
  const app = createEdgeApp({
    config,
    rateLimiter: readingNoVersions(new MemoryRateLimiter(Date.now)),
    cache: new MemoryCacheStore(Date.now),
    fetchOrigin: (request) => fetch(request),
    now: Date.now,
    clientIp: () => '192.0.2.7',
    observability: {
      metrics,
      sinks: [
        { record: (entry) => points.push(entry) },
        new AnalyticsEngineSink({ writeDataPoint: (point) => written.push(point) }),
      ],
      log: (line) => lines.push(line),
    },
  })
  const records = () =>
    lines.map((line) => JSON.parse(line) as RequestRecord & { msg: string; level: string })
  return { app, records, points, written, metrics }
}

const call = (app: ReturnType<typeof edge>['app'], path: string, id: string, init: RequestInit = {}) =>
  app.request(path, { ...init, headers: { ...(init.headers as object), 'x-request-id': id } })

describe('edge request log and counters', () => {
  it('writes one JSON line per request with route, status, duration, cache, limiter and origin time', async () => {
    const { app, records } = edge(origin.url)
    expect((await call(app, '/api/merchants/m1', 'r-miss')).status).toBe(200)
    expect((await call(app, '/api/merchants/m1', 'r-hit')).headers.get('x-cache')).toBe('HIT')
    await call(app, '/api/auth/login', 'r-login', { method: 'POST', body: '{}' })
    expect((await call(app, '/api/auth/login', 'r-limited', { method: 'POST', body: '{}' })).status).toBe(429)
    await call(app, '/health', 'r-health')

    const byId = Object.fromEntries(records().map((r) => [r.requestId, r]))
    expect(records()).toHaveLength(5)
    expect(byId['r-miss']).toMatchObject({
      level: 'info',
      msg: 'request',
      method: 'GET',
      route: '/api/merchants/:id',
      status: 200,
      cache: 'miss',
      limiter: 'allowed',
      originFailed: false,
    })
    expect(byId['r-miss']!.originMs).toBeGreaterThan(0)
    expect(byId['r-miss']!.durationMs).toBeGreaterThanOrEqual(byId['r-miss']!.originMs!)
    expect(byId['r-hit']).toMatchObject({ cache: 'hit', originMs: null, status: 200 })
    expect(byId['r-login']).toMatchObject({ route: '/api/auth/login', limiter: 'allowed', cache: 'none' })
    expect(byId['r-limited']).toMatchObject({ status: 429, limiter: 'limited', originMs: null })
    expect(byId['r-health']).toMatchObject({
      route: '/health',
      limiter: 'allowed',
      cache: 'none',
      originMs: null,
    })
  })

  it('logs the route template, never an identifier from the path', async () => {
    const { app, records } = edge(origin.url)
    const token = await tokenFor('u-observed')
    await call(app, '/api/points/gifts/GIFTCODE-SECRET-123/claim', 'r-claim', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    const [entry] = records()
    expect(entry).toMatchObject({ route: '/api/points/gifts/:id/claim', status: 200 })
    expect(JSON.stringify(records())).not.toContain('GIFTCODE')
    expect(JSON.stringify(records())).not.toContain(token)
  })

  it('records an origin that does not answer as a failure with its time', async () => {
    const { app, records, metrics } = edge(await deadUrl())
    expect((await call(app, '/api/merchants/m1', 'r-dead')).status).toBe(503)
    expect(records()[0]).toMatchObject({ status: 503, originFailed: true, cache: 'miss' })
    expect(records()[0]!.originMs).toEqual(expect.any(Number))
    expect(metrics.render()).toMatch(/^edge_origin_failures_total 1$/m)
  })

  it('hands every sink the same record and writes Analytics Engine columns in the documented order', async () => {
    const { app, records, points, written } = edge(origin.url)
    await call(app, '/api/merchants/m9', 'r-ae')
    expect(points).toEqual([expect.objectContaining({ requestId: 'r-ae' })])
    const {
      msg: _msg,
      level: _level,
      time: _time,
      ...logged
    } = records()[0] as never as Record<string, unknown>
    expect(logged).toEqual(points[0])
    const entry = points[0]!
    expect(written).toEqual([
      {
        indexes: ['/api/merchants/:id'],
        blobs: ['/api/merchants/:id', 'GET', '200', 'miss', 'allowed', 'r-ae'],
        doubles: [200, entry.durationMs, entry.originMs, 0],
      },
    ])
  })

  it('serves Prometheus text at /metrics only with the bearer token', async () => {
    const { app } = edge(origin.url)
    await call(app, '/api/merchants/m1', 'a')
    await call(app, '/api/merchants/m1', 'b')
    expect((await app.request('/metrics')).status).toBe(401)
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    const res = await app.request('/metrics', { headers: { authorization: 'Bearer scrape-me' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    expect(text).toContain('edge_http_requests_total{route="/api/merchants/:id",method="GET",status="200"} 2')
    expect(text).toContain('edge_cache_lookups_total{result="miss"} 1')
    expect(text).toContain('edge_cache_lookups_total{result="hit"} 1')
    expect(text).toContain('edge_http_request_duration_seconds_count{route="/api/merchants/:id"} 2')
    expect(text).toContain('edge_origin_duration_seconds_count 1')
    // The two page reads and the two refused scrapes before this one: every path is limited.
    expect(text).toContain('edge_rate_limit_decisions_total{decision="allowed"} 4')
  })

  it('has no /metrics without METRICS_TOKEN', async () => {
    const { app } = edge(origin.url, { METRICS_TOKEN: '' })
    expect((await app.request('/metrics', { headers: { authorization: 'Bearer ' } })).status).toBe(404)
  })
})

describe('routeOf', () => {
  it.each([
    ['/api/orders/ord_123', '/api/orders/:id'],
    ['/api/merchant/orders/o1/refunds', '/api/merchant/orders/:id/refunds'],
    ['/api/admin/merchants/m1/approve', '/api/admin/merchants/:id/approve'],
    ['/api/me/invitations/i1/accept', '/api/me/invitations/:id/accept'],
    ['/health', '/health'],
    ['/console/assets/app.js', '/console/*'],
    ['/wp-login.php', 'other'],
    ['/api/a/b/c/d/e/f/g', 'other'],
  ])('%s → %s', (path, route) => {
    expect(routeOf(path)).toBe(route)
  })
})
