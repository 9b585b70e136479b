/**
 * The path tricks of the security review (issue 15), sent byte for byte on raw sockets to both
 * runtimes: Deno hands the worker the raw request line, workerd normalises some of it first. Either
 * way, the edge must never connect to another host, never sign a request for a path other than the
 * one it decided on, and refuse what it cannot forward as sent with 400 VALIDATION_FAILED.
 */
import { createServer, type Server } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  deadUrl,
  type EdgeHandle,
  edgeEnv,
  type OriginHandle,
  type Runtime,
  randomIp,
  startEdge,
  startOrigin,
  tokenFor,
} from './support/harness.ts'
import { rawRequest } from './support/raw-http.ts'

let origin: OriginHandle
let attacker: Server
let attackerPort: number
let attackerConnections = 0
const edges = {} as Record<Runtime, EdgeHandle>

beforeAll(async () => {
  attacker = createServer((socket) => {
    attackerConnections++
    socket.destroy()
  })
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r))
  attackerPort = (attacker.address() as { port: number }).port
  origin = await startOrigin()
  const env = edgeEnv(origin.url, { RATE_LIMIT_LOGIN_MAX: '3' })
  ;[edges.workerd, edges.deno] = await Promise.all([
    startEdge('workerd', env),
    // Counting in its own isolate: every Deno caller is 127.0.0.1, whose shared-Redis counters the
    // contract tests count exactly.
    startEdge('deno', { ...env, UPSTASH_REDIS_REST_URL: await deadUrl() }),
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all([edges.workerd?.close(), edges.deno?.close()])
  await origin?.close()
  await new Promise((r) => attacker.close(r))
})

const HOSTILE_PATHS = (att: string) => [
  `/api/merchants/..\\..\\..\\\\${att}\\latest`,
  `/api/..//${att}/api/points/gifts`,
  `//${att}/api/points/gifts`,
  `/api/merchants/..//..//${att}/x`,
  `/api/merchants/%2e%2e/%2e%2e/%2e%2e//${att}/x`,
  `/api/merchants/1%2f..%2f..%2f%2f${att}%2fx`,
  `/api/merchants/1%5c..%5c..%5c%5c${att}%5cx`,
  '/api/merchants/../points/balance',
  '/api/./points/balance',
  '/api/points/balance/.',
  '/api/points/%2e%2e/points/balance',
  '/api//points/balance',
]

describe.each(['deno', 'workerd'] as const)('path attacks on %s (raw sockets)', (runtime) => {
  it('never reaches another host, and signs only what it decided on', async () => {
    const token = await tokenFor(`u-${crypto.randomUUID()}`)
    const before = origin.received!.length
    const answers: string[] = []
    for (const path of HOSTILE_PATHS(`127.0.0.1:${attackerPort}`)) {
      for (const method of ['GET', 'POST']) {
        const res = await rawRequest(
          edges[runtime].url,
          method,
          path,
          {
            authorization: `Bearer ${token}`,
            'cf-connecting-ip': randomIp(),
            'content-type': 'application/json',
          },
          method === 'POST' ? '{"points":1}' : '',
        )
        answers.push(`${method} ${path} → ${res.status}`)
        expect(res.status, `${method} ${path}`).toBeLessThan(500)
        if (runtime === 'deno') {
          expect(res.status, `${method} ${path}`).toBe(400)
          const body = JSON.parse(res.body)
          expect(body.error.code).toBe('VALIDATION_FAILED')
          expect(body.error.details.field).toBe('path')
          expect(body.requestId).toBe(res.headers['x-request-id'])
          expect(res.headers['x-content-type-options']).toBe('nosniff')
        }
      }
    }
    expect(attackerConnections, answers.join('\n')).toBe(0)
    // workerd may have normalised a trick into a plain path and forwarded that: then the path the
    // origin received, the one signed, is plain too (no dot segments, no `//`, no encoded slash).
    for (const got of origin.received!.slice(before)) {
      expect(got.signatureValid).toBe(true)
      expect(got.pathWithQuery).toMatch(/^(\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+\/?$/)
      expect(got.pathWithQuery).not.toMatch(/\/\.\.?(\/|$)/)
    }
    if (runtime === 'deno') expect(origin.received!.length).toBe(before)
  })

  it('a dot-segment login is not a way around the login limit', async () => {
    const ip = randomIp()
    const before = origin.received!.length
    const statuses: number[] = []
    for (const path of [
      '/api/auth/login',
      '/api/./auth/login',
      '/api/x/../auth/login',
      '/api/auth/login/.',
    ]) {
      for (let i = 0; i < 3; i++) {
        const res = await rawRequest(
          edges[runtime].url,
          'POST',
          path,
          { 'cf-connecting-ip': ip, 'content-type': 'application/json' },
          '{"code":"code-x"}',
        )
        statuses.push(res.status)
      }
    }
    // Three real logins pass the limit of 3; every other attempt is refused one way or another
    // (400 on Deno; on workerd, which normalised the path, the login limit's 429, or 401 for the
    // trailing-slash path that is no login at all), and none of them reaches the origin.
    expect(statuses.slice(0, 3), String(statuses)).toEqual([200, 200, 200])
    expect(
      statuses.slice(3).filter((s) => ![400, 401, 429].includes(s)),
      String(statuses),
    ).toEqual([])
    expect(origin.received!.length - before).toBe(3)
  })

  it('a canonical path still goes through, query untouched', async () => {
    const res = await rawRequest(edges[runtime].url, 'GET', '/api/merchants/m-1?x=1&y=a%2Fb', {
      'cf-connecting-ip': randomIp(),
    })
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toMatchObject({
      pathWithQuery: '/api/merchants/m-1?x=1&y=a%2Fb',
      signatureValid: true,
    })
  })
})
