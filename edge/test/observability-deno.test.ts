/**
 * The Deno deployment's observability over HTTP: one JSON log line per request on stdout, and the
 * counters scraped from GET /metrics with the METRICS_TOKEN bearer.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type EdgeHandle,
  edgeEnv,
  type OriginHandle,
  type OwnRedis,
  ownRedis,
  startEdge,
  startOrigin,
  tokenFor,
} from './support/harness.ts'

const METRICS_TOKEN = `metrics-${crypto.randomUUID()}`

let origin: OriginHandle
let edge: EdgeHandle
let edgeWithoutToken: EdgeHandle
let own: OwnRedis

beforeAll(async () => {
  origin = await startOrigin()
  own = await ownRedis(7)
  ;[edge, edgeWithoutToken] = await Promise.all([
    startEdge(
      'deno',
      edgeEnv(origin.url, {
        METRICS_TOKEN,
        RATE_LIMIT_IP_MAX: '100000',
        RATE_LIMIT_LOGIN_MAX: '2',
        ...own.env,
      }),
    ),
    startEdge('deno', edgeEnv(origin.url, own.env)),
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all([edge?.close(), edgeWithoutToken?.close()])
  await origin?.close()
  await own?.close()
})

const get = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
  fetch(`${edge.url}${path}`, { ...init, headers })

/** The JSON request lines the edge printed, by request id. */
function loggedRequests(): Map<string, Record<string, unknown>> {
  const entries = edge
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.msg === 'request')
  return new Map(entries.map((e) => [String(e.requestId), e]))
}

async function scrape(): Promise<string> {
  const res = await get('/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return res.text()
}

/** The value of one sample line, 0 when the series does not exist yet. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line ? Number(line.slice(series.length + 1)) : 0
}

describe('Deno edge observability', () => {
  it('prints one JSON object per request with the fields an operator filters on', async () => {
    const run = crypto.randomUUID().slice(0, 8)
    await (await get('/api/merchants/m-log', { 'x-request-id': `${run}-miss` })).text()
    await (await get('/api/merchants/m-log', { 'x-request-id': `${run}-hit` })).text()
    const token = await tokenFor('u-deno-log')
    await (
      await get('/api/points/gifts/SECRET-GIFT-CODE', {
        'x-request-id': `${run}-gift`,
        authorization: `Bearer ${token}`,
      })
    ).text()

    // stdout arrives asynchronously: wait for the three lines.
    await expect.poll(() => [...loggedRequests().keys()].filter((id) => id.startsWith(run)).length).toBe(3)
    const logged = loggedRequests()
    expect(logged.get(`${run}-miss`)).toMatchObject({
      level: 'info',
      method: 'GET',
      route: '/api/merchants/:id',
      status: 200,
      cache: 'miss',
      limiter: 'allowed',
      originFailed: false,
      durationMs: expect.any(Number),
      originMs: expect.any(Number),
    })
    expect(logged.get(`${run}-hit`)).toMatchObject({ cache: 'hit', originMs: null })
    expect(logged.get(`${run}-gift`)).toMatchObject({ route: '/api/points/gifts/:id', status: 200 })
    expect(edge.output()).not.toContain('SECRET-GIFT-CODE')
  })

  it('counts requests, cache results, limiter decisions and origin time at /metrics', async () => {
    const before = await scrape()
    await (await get('/api/merchants/m-count')).text()
    await (await get('/api/merchants/m-count')).text()
    const logins = await Promise.all(
      [1, 2, 3].map(() => get('/api/auth/login', {}, { method: 'POST', body: '{}' }).then((r) => r.status)),
    )
    expect(logins.sort()).toEqual([200, 200, 429])
    const after = await scrape()

    const delta = (series: string) => sample(after, series) - sample(before, series)
    expect(delta('edge_http_requests_total{route="/api/merchants/:id",method="GET",status="200"}')).toBe(2)
    expect(delta('edge_http_requests_total{route="/api/auth/login",method="POST",status="429"}')).toBe(1)
    expect(delta('edge_cache_lookups_total{result="hit"}')).toBe(1)
    expect(delta('edge_cache_lookups_total{result="miss"}')).toBe(1)
    expect(delta('edge_rate_limit_decisions_total{decision="limited"}')).toBe(1)
    // Two page reads, two logins, and the scrape itself: every path the edge answers is limited.
    expect(delta('edge_rate_limit_decisions_total{decision="allowed"}')).toBe(5)
    // One merchant miss and two logins reached the origin.
    expect(delta('edge_origin_duration_seconds_count')).toBe(3)
    expect(sample(after, 'edge_origin_duration_seconds_sum')).toBeGreaterThan(0)
    expect(sample(after, 'edge_origin_failures_total')).toBe(0)
    expect(after).toContain('# TYPE edge_http_request_duration_seconds histogram')
  })

  it('refuses /metrics without the bearer, and has none when METRICS_TOKEN is unset', async () => {
    expect((await get('/metrics')).status).toBe(401)
    expect((await get('/metrics', { authorization: 'Bearer not-the-token' })).status).toBe(401)
    const unguarded = await fetch(`${edgeWithoutToken.url}/metrics`)
    expect(unguarded.status).toBe(404)
  })

  it('exposes every edge metric the Grafana dashboard queries', async () => {
    const dashboard = readFileSync('ops/grafana/dashboards/points.json', 'utf8')
    const queried = new Set(
      [...dashboard.matchAll(/\b(edge_[a-z_]+?)(?:_bucket|_sum|_count)?\{/g)].map((m) => m[1]!),
    )
    expect(queried.size).toBeGreaterThanOrEqual(5)
    const families = new Set([...(await scrape()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!))
    for (const name of queried) expect(families, name).toContain(name)
  })
})
