/**
 * The web console's files at /console/ (API.md §17) on both runtimes: the same files, the edge's
 * security headers plus a CSP, rate-limited like every path, and the dev-login flag off unless the
 * dev stack turns it on. The console's login routes reach the origin without a bearer token.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
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

const RUNTIMES: Runtime[] = ['workerd', 'deno']
const IP_LIMIT = 3
let origin: OriginHandle
let own: OwnRedis
const edges = {} as Record<Runtime, EdgeHandle>
const devEdges = {} as Record<Runtime, EdgeHandle>
const limited = {} as Record<Runtime, EdgeHandle>

beforeAll(async () => {
  origin = await startOrigin()
  own = await ownRedis(8)
  const high = edgeEnv(origin.url, { RATE_LIMIT_IP_MAX: '100000', ...own.env })
  const low = edgeEnv(origin.url, { RATE_LIMIT_IP_MAX: String(IP_LIMIT), ...own.env })
  ;[edges.workerd, edges.deno, devEdges.workerd, devEdges.deno, limited.workerd, limited.deno] =
    await Promise.all([
      startEdge('workerd', high),
      startEdge('deno', high),
      startEdge('workerd', { ...high, CONSOLE_DEV_LOGIN: 'true' }),
      startEdge('deno', { ...high, CONSOLE_DEV_LOGIN: 'true' }),
      startEdge('workerd', low),
      startEdge('deno', low),
    ])
}, 60_000)

afterAll(async () => {
  await Promise.all(
    [...Object.values(edges), ...Object.values(devEdges), ...Object.values(limited)].map((e) => e?.close()),
  )
  await origin?.close()
  await own?.close()
})

/** A caller of its own: workerd trusts CF-Connecting-IP here; Deno's callers are all 127.0.0.1. */
const caller = () => ({ 'cf-connecting-ip': randomIp() })

describe.each(RUNTIMES)('console on %s', (runtime) => {
  it('serves the built page with the security headers and a CSP that allows only its own files', async () => {
    const res = await fetch(`${edges[runtime].url}/console/`, { headers: caller() })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await res.text()).toBe(readFileSync('dist/assets/console/index.html', 'utf8'))
    expect(res.headers.get('x-frame-options')).toBe('DENY')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(res.headers.get('ratelimit-limit')).toBe('100000')
    expect(res.headers.get('x-request-id')).toBeTruthy()

    const js = await fetch(`${edges[runtime].url}/console/app.js`, { headers: caller() })
    expect(js.status).toBe(200)
    expect(js.headers.get('content-type')).toMatch(/^(text|application)\/javascript/)
    expect((await js.arrayBuffer()).byteLength).toBe(readFileSync('dist/assets/console/app.js').byteLength)
    const css = await fetch(`${edges[runtime].url}/console/app.css`, { headers: caller() })
    expect(css.headers.get('content-type')).toMatch(/^text\/css/)
  })

  it('redirects /console to /console/ and answers 404 in the API error shape for unknown files', async () => {
    const bare = await fetch(`${edges[runtime].url}/console`, { headers: caller(), redirect: 'manual' })
    expect(bare.status).toBe(301)
    expect(new URL(bare.headers.get('location')!, edges[runtime].url).pathname).toBe('/console/')
    const missing = await fetch(`${edges[runtime].url}/console/nope.js`, { headers: caller() })
    expect(missing.status).toBe(404)
    expect((await missing.json()).error.code).toBe('NOT_FOUND')
    const outside = await fetch(`${edges[runtime].url}/console/../wrangler.toml`, { headers: caller() })
    expect(outside.status).not.toBe(200)
  })

  it('offers the sandbox login shortcut only when CONSOLE_DEV_LOGIN is true', async () => {
    const off = await fetch(`${edges[runtime].url}/console/dev-login.json`, { headers: caller() })
    expect(await off.json()).toEqual({ enabled: false })
    const on = await fetch(`${devEdges[runtime].url}/console/dev-login.json`, { headers: caller() })
    expect(await on.json()).toEqual({ enabled: true })
  })

  it('counts console files against the per-IP limit', async () => {
    const ip = randomIp()
    const statuses: number[] = []
    for (let i = 0; i < IP_LIMIT + 1; i++) {
      const res = await fetch(`${limited[runtime].url}/console/`, { headers: { 'cf-connecting-ip': ip } })
      statuses.push(res.status)
      await res.body?.cancel()
    }
    expect(statuses.at(-1)).toBe(429)
  })

  it('passes console login sessions to the origin without a bearer token, and approval only with one', async () => {
    const before = origin.received!.length
    const created = await fetch(`${edges[runtime].url}/api/console/sessions`, {
      method: 'POST',
      headers: caller(),
    })
    expect(created.status).toBe(200)
    const polled = await fetch(`${edges[runtime].url}/api/console/sessions/AAAAAAAAAAAAAAAAAAAAAA`, {
      headers: caller(),
    })
    expect(polled.status).toBe(200)
    const approve = await fetch(`${edges[runtime].url}/api/console/sessions/AAAAAAAAAAAAAAAAAAAAAA/approve`, {
      method: 'POST',
      headers: caller(),
    })
    expect(approve.status).toBe(401)
    const paths = origin.received!.slice(before).map((r) => `${r.method} ${r.pathWithQuery}`)
    expect(paths).toEqual(['POST /api/console/sessions', 'GET /api/console/sessions/AAAAAAAAAAAAAAAAAAAAAA'])
  })
})
