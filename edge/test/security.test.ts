/**
 * Edge security checks that support/contract.ts does not already make (it covers: no token,
 * expired, `alg: none`, another secret; X-Edge-*, X-Client-IP and X-Forwarded-For being replaced).
 * Here: algorithm switches and header/payload tampering at the JWT pre-check, the rest of the
 * proxy/client-address headers, and that no spoofed address header escapes the per-IP limit.
 */
import { createHmac } from 'node:crypto'
import { sign } from 'hono/jwt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Echo } from './support/echo-origin.ts'
import {
  deadUrl,
  type EdgeHandle,
  edgeEnv,
  JWT_SECRET,
  type OriginHandle,
  randomIp,
  SIGNING_KEY_ID,
  startEdge,
  startOrigin,
  tokenFor,
} from './support/harness.ts'

const IP_LIMIT = 5

let origin: OriginHandle
let workerd: EdgeHandle
let deno: EdgeHandle

beforeAll(async () => {
  origin = await startOrigin()
  ;[workerd, deno] = await Promise.all([
    startEdge('workerd', edgeEnv(origin.url, { RATE_LIMIT_IP_MAX: String(IP_LIMIT) })),
    // A Redis that cannot be reached: the per-isolate limiter counts, so no other test's
    // 127.0.0.1 traffic shares these counters.
    startEdge(
      'deno',
      edgeEnv(origin.url, { UPSTASH_REDIS_REST_URL: await deadUrl(), RATE_LIMIT_IP_MAX: String(IP_LIMIT) }),
    ),
  ])
}, 60_000)

afterAll(async () => {
  await Promise.all([workerd?.close(), deno?.close()])
  await origin?.close()
})

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const nowS = () => Math.floor(Date.now() / 1000)

function craft(header: object, payload: object, key: string, hash: 'sha256' | 'sha512' = 'sha256') {
  const head = `${b64url(header)}.${b64url(payload)}`
  return `${head}.${createHmac(hash, key).update(head).digest('base64url')}`
}

const claims = (over: Record<string, unknown> = {}) => ({
  sub: 'u-victim',
  roles: ['user'],
  merchantId: null,
  iat: nowS() - 5,
  exp: nowS() + 600,
  ...over,
})

async function hostileTokens(): Promise<Array<[string, string]>> {
  const real = await tokenFor('u-victim')
  const other = await tokenFor('u-other')
  const [h, p, s] = real.split('.') as [string, string, string]
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
  return [
    ['HS512 re-signed with the real secret', await sign(claims(), JWT_SECRET, 'HS512')],
    ['HS384 re-signed with the real secret', await sign(claims(), JWT_SECRET, 'HS384')],
    ['HS512 header over an HS256 MAC', craft({ alg: 'HS512', typ: 'JWT' }, claims(), JWT_SECRET)],
    ['RS256 header over an HS256 MAC', craft({ alg: 'RS256', typ: 'JWT' }, claims(), JWT_SECRET)],
    ['ES256 header over an HS256 MAC', craft({ alg: 'ES256', typ: 'JWT' }, claims(), JWT_SECRET)],
    ['alg None', `${b64url({ alg: 'None', typ: 'JWT' })}.${b64url(claims())}.`],
    ['alg NONE keeping the real signature', `${b64url({ alg: 'NONE' })}.${p}.${s}`],
    ['no alg', craft({ typ: 'JWT' }, claims(), JWT_SECRET)],
    ['crit header', craft({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, claims(), JWT_SECRET)],
    ['payload sub swapped, signature kept', `${h}.${b64url({ ...payload, sub: 'u-other' })}.${s}`],
    ['payload exp extended, signature kept', `${h}.${b64url({ ...payload, exp: nowS() + 1e8 })}.${s}`],
    ['signature of another token', `${h}.${p}.${other.split('.')[2]}`],
    ['signature dropped', `${h}.${p}.`],
    ['two segments', `${h}.${p}`],
    ['missing sub', await sign(claims({ sub: undefined }), JWT_SECRET, 'HS256')],
    ['empty sub', await sign(claims({ sub: '' }), JWT_SECRET, 'HS256')],
    ['numeric sub', await sign(claims({ sub: 42 }), JWT_SECRET, 'HS256')],
    ['sub a list', await sign(claims({ sub: ['u-victim'] }), JWT_SECRET, 'HS256')],
    ['missing exp', await sign(claims({ exp: undefined }), JWT_SECRET, 'HS256')],
    ['exp as a string', await sign(claims({ exp: String(nowS() + 600) }), JWT_SECRET, 'HS256')],
    ['not yet valid (nbf)', await sign(claims({ nbf: nowS() + 600 }), JWT_SECRET, 'HS256')],
    ['issued in the future', await sign(claims({ iat: nowS() + 600 }), JWT_SECRET, 'HS256')],
    ['empty secret', craft({ alg: 'HS256', typ: 'JWT' }, claims(), '')],
  ]
}

describe('edge JWT pre-check on workerd', () => {
  it('lets the genuine token through (control)', async () => {
    const res = await fetch(`${workerd.url}/api/me`, {
      headers: { authorization: `Bearer ${await tokenFor('u-victim')}`, 'cf-connecting-ip': randomIp() },
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as Echo).signatureValid).toBe(true)
  })

  it('answers 401 to every algorithm switch, tampered or malformed token, without calling the origin', async () => {
    const before = origin.received!.length
    const passed: string[] = []
    for (const [name, token] of await hostileTokens()) {
      for (const [method, path] of [
        ['GET', '/api/points/balance'],
        ['POST', '/api/points/gifts'],
      ] as const) {
        const res = await fetch(`${workerd.url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            'cf-connecting-ip': randomIp(),
            'content-type': 'application/json',
          },
          body: method === 'POST' ? '{"points":1}' : undefined,
        })
        const text = await res.text()
        if (res.status !== 401) {
          passed.push(`${name}: ${method} ${path} → ${res.status}`)
          continue
        }
        const body = JSON.parse(text)
        expect(body.error.code).toBe('UNAUTHENTICATED')
        expect(body.requestId).toBe(res.headers.get('x-request-id'))
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/)
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
        expect(text).not.toMatch(/\n\s+at |Error:|Jwt[A-Z]\w+/)
      }
    }
    expect(passed).toEqual([])
    expect(origin.received!.length).toBe(before)
  })
})

describe('client address and proxy headers', () => {
  const SPOOFED = {
    'x-client-ip': '6.6.6.6',
    'X-Client-Ip': '6.6.6.7',
    'x-forwarded-for': '6.6.6.6, 7.7.7.7',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-proto': 'http',
    'x-real-ip': '6.6.6.6',
    forwarded: 'for=6.6.6.6;proto=http',
    'cf-ipcountry': 'XX',
    'cf-ray': 'spoofed',
    'X-EDGE-KEY-ID': 'evil',
    'x-edge-timestamp': '1',
    'x-edge-nonce': 'nonceNONCEnonce0123',
    'x-edge-signature': 'AAAA',
    'x-edge-user': 'admin',
  }

  const checkForwarded = (echo: Echo, expectedIp: string) => {
    expect(echo.signatureValid).toBe(true)
    expect(echo.headers['x-edge-key-id']).toBe(SIGNING_KEY_ID)
    expect(echo.headers['x-edge-timestamp']).not.toBe('1')
    expect(echo.headers['x-edge-nonce']).not.toBe('nonceNONCEnonce0123')
    expect(echo.headers['x-edge-user']).toBeUndefined()
    expect(echo.headers['x-client-ip']).toBe(expectedIp)
    for (const name of [
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-real-ip',
      'forwarded',
    ]) {
      expect(echo.headers[name], name).toBeUndefined()
    }
    // workerd itself adds CF-Worker to subrequests; nothing the client sent as CF-* gets through.
    expect(Object.keys(echo.headers).filter((n) => n.startsWith('cf-') && n !== 'cf-worker')).toEqual([])
  }

  it('workerd replaces or drops every spoofable header, on reads and writes', async () => {
    const ip = randomIp()
    const token = await tokenFor('u-spoof')
    for (const method of ['GET', 'POST']) {
      const res = await fetch(`${workerd.url}/api/me`, {
        method,
        headers: { ...SPOOFED, 'cf-connecting-ip': ip, authorization: `Bearer ${token}` },
        body: method === 'POST' ? '{}' : undefined,
      })
      checkForwarded((await res.json()) as Echo, ip)
    }
  })

  it('deno takes the address from the socket, whatever the headers say', async () => {
    const res = await fetch(`${deno.url}/api/me`, {
      headers: {
        ...SPOOFED,
        'cf-connecting-ip': '6.6.6.6',
        authorization: `Bearer ${await tokenFor('u-spoof')}`,
      },
    })
    checkForwarded((await res.json()) as Echo, '127.0.0.1')
  })

  it('strips edge and address headers from WeChat callbacks too', async () => {
    const res = await fetch(`${workerd.url}/api/refund/callback`, {
      method: 'POST',
      headers: { ...SPOOFED, 'cf-connecting-ip': randomIp(), 'content-type': 'application/json' },
      body: '{}',
    })
    const echo = (await res.json()) as Echo
    for (const name of Object.keys(SPOOFED).map((n) => n.toLowerCase())) {
      expect(echo.headers[name], name).toBeUndefined()
    }
  })

  it('workerd: spoofed address headers do not escape the per-IP limit', async () => {
    const ip = randomIp()
    const token = await tokenFor(`u-${crypto.randomUUID()}`)
    const statuses: number[] = []
    for (let i = 0; i < IP_LIMIT + 4; i++) {
      const fake = `198.51.100.${i + 1}`
      const res = await fetch(`${workerd.url}/api/me`, {
        headers: {
          'cf-connecting-ip': ip,
          authorization: `Bearer ${token}`,
          'x-forwarded-for': fake,
          'x-real-ip': fake,
          'x-client-ip': fake,
          'true-client-ip': fake,
          forwarded: `for=${fake}`,
        },
      })
      statuses.push(res.status)
      await res.arrayBuffer()
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(IP_LIMIT)
    expect(statuses.filter((s) => s === 429)).toHaveLength(4)
  })

  it('deno: not even CF-Connecting-IP moves a caller to another bucket', async () => {
    const token = await tokenFor(`u-${crypto.randomUUID()}`)
    const statuses: number[] = []
    for (let i = 0; i < IP_LIMIT + 4; i++) {
      const fake = `198.51.100.${i + 1}`
      const res = await fetch(`${deno.url}/api/me`, {
        headers: {
          authorization: `Bearer ${token}`,
          'cf-connecting-ip': fake,
          'x-forwarded-for': fake,
          'x-real-ip': fake,
          'x-client-ip': fake,
          forwarded: `for=${fake}`,
        },
      })
      statuses.push(res.status)
      await res.arrayBuffer()
    }
    // Other tests in this file may have spent some of 127.0.0.1's budget already; nine fake
    // addresses must still share one bucket of IP_LIMIT.
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(IP_LIMIT)
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(4)
    expect(statuses.slice(statuses.indexOf(429)).every((s) => s === 429)).toBe(true)
  })
})
