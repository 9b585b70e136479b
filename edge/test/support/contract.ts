/** The edge's behaviour, run against each runtime by workerd.test.ts and deno.test.ts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Echo } from './echo-origin.ts'
import {
  deadUrl,
  type EdgeHandle,
  edgeEnv,
  type OriginHandle,
  type Runtime,
  randomIp,
  SIGNING_KEY_ID,
  startEdge,
  startOrigin,
  tokenFor,
  unsignedToken,
} from './harness.ts'

interface Call extends RequestInit {
  ip?: string
  token?: string
}

const SECURITY_HEADERS = {
  'strict-transport-security': /max-age=\d+/,
  'x-content-type-options': /^nosniff$/,
  'x-frame-options': /^DENY$/,
  'referrer-policy': /.+/,
}

export function describeEdge(runtime: Runtime) {
  // Locally workerd passes a client's CF-Connecting-IP through, so tests can be many callers;
  // on Deno every caller is 127.0.0.1 and the per-IP limit is raised out of the way.
  const separateIps = runtime === 'workerd'
  let origin: OriginHandle
  let edge: EdgeHandle
  let edgeWithoutRedis: EdgeHandle
  let edgeWithoutOrigin: EdgeHandle

  beforeAll(async () => {
    origin = await startOrigin()
    const [deadRedis, deadOrigin] = await Promise.all([deadUrl(), deadUrl()])
    ;[edge, edgeWithoutRedis, edgeWithoutOrigin] = await Promise.all([
      startEdge(
        runtime,
        edgeEnv(origin.url, {
          RATE_LIMIT_IP_MAX: separateIps ? '20' : '100000',
          RATE_LIMIT_LOGIN_MAX: '5',
          RATE_LIMIT_WRITE_MAX: '20',
          CACHE_TTL_S: '1',
        }),
      ),
      startEdge(
        runtime,
        edgeEnv(origin.url, { UPSTASH_REDIS_REST_URL: deadRedis, RATE_LIMIT_WRITE_MAX: '20' }),
      ),
      startEdge(runtime, edgeEnv(deadOrigin)),
    ])
  }, 60_000)

  afterAll(async () => {
    await Promise.all([edge?.close(), edgeWithoutRedis?.close(), edgeWithoutOrigin?.close()])
    await origin?.close()
  })

  function call(target: EdgeHandle, path: string, { ip, token, ...init }: Call = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    headers.set('cf-connecting-ip', ip ?? randomIp())
    if (token) headers.set('authorization', `Bearer ${token}`)
    return fetch(`${target.url}${path}`, { ...init, headers })
  }

  const originCalls = () => origin.received?.length
  const statuses = (responses: Response[]) => responses.map((r) => r.status)
  const count = (list: number[], status: number) => list.filter((s) => s === status).length

  async function expectError(res: Response, status: number, code: string) {
    expect(res.status).toBe(status)
    const body = (await res.json()) as { error: { code: string; message: string }; requestId: string }
    expect(body.error.code).toBe(code)
    expect(body.error.message).toBeTruthy()
    expect(body.requestId).toBe(res.headers.get('x-request-id'))
  }

  describe(`edge on ${runtime}: forwarding`, () => {
    it('signs the exact method, path, query and body bytes, and the origin accepts it', async () => {
      const token = await tokenFor(`u-${crypto.randomUUID()}`)
      const payload = JSON.stringify({ points: 5, message: 'für dich 🎁' })
      const res = await call(edge, '/api/points/gifts?b=2&a=%20x', {
        method: 'POST',
        token,
        body: payload,
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-forward-1' },
      })
      expect(res.status).toBe(200)
      expect(res.headers.get('x-request-id')).toBe('req-forward-1')
      const echo = (await res.json()) as Echo
      expect(echo.signatureValid).toBe(true)
      expect(echo.method).toBe('POST')
      expect(echo.pathWithQuery).toBe('/api/points/gifts?b=2&a=%20x')
      expect(Buffer.from(echo.bodyBase64, 'base64').toString('utf8')).toBe(payload)
      expect(echo.headers['x-request-id']).toBe('req-forward-1')
      expect(echo.headers.authorization).toBe(`Bearer ${token}`)
      expect(echo.headers['x-edge-key-id']).toBe(SIGNING_KEY_ID)
    })

    it('drops client-supplied X-Edge-* and X-Client-IP and sets its own', async () => {
      const ip = randomIp()
      const res = await call(edge, '/api/me', {
        ip,
        token: await tokenFor('u-strip'),
        headers: {
          'x-edge-key-id': 'evil',
          'x-edge-signature': 'forged',
          'x-edge-user': 'admin',
          'x-client-ip': '6.6.6.6',
          'x-forwarded-for': '6.6.6.6',
        },
      })
      const echo = (await res.json()) as Echo
      expect(echo.signatureValid).toBe(true)
      expect(echo.headers['x-edge-key-id']).toBe(SIGNING_KEY_ID)
      expect(echo.headers['x-edge-user']).toBeUndefined()
      expect(echo.headers['x-forwarded-for']).toBeUndefined()
      expect(echo.headers['cf-connecting-ip']).toBeUndefined()
      expect(echo.headers['x-client-ip']).toBe(separateIps ? ip : '127.0.0.1')
    })

    it('generates a request id when the caller sends none', async () => {
      const res = await call(edge, '/api/merchants/m-id')
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    })

    it("passes the origin's status and headers back unchanged", async () => {
      const res = await call(edge, '/api/test/status/418', { token: await tokenFor('u-status') })
      expect(res.status).toBe(418)
      expect(res.headers.get('retry-after')).toBe('7')
      expect(res.headers.get('ratelimit-limit')).toBe('3')
      expect(res.headers.get('x-origin-header')).toBe('kept')
      expect(res.headers.get('content-type')).toBe('application/json')
    })

    it('passes WeChat callbacks through byte-exact and unsigned', async () => {
      const raw = '{ "id":"EV-1",\n  "resource" : {"ciphertext":"abc=="} }  '
      const res = await call(edge, '/api/payment/callback', {
        method: 'POST',
        body: raw,
        headers: {
          'content-type': 'application/json',
          'wechatpay-signature': 'sig',
          'x-edge-signature': 'x',
        },
      })
      const echo = (await res.json()) as Echo
      expect(Buffer.from(echo.bodyBase64, 'base64').toString('utf8')).toBe(raw)
      expect(echo.headers['wechatpay-signature']).toBe('sig')
      expect(echo.headers['x-edge-signature']).toBeUndefined()
      expect(echo.headers['x-client-ip']).toBeUndefined()
    })

    it('answers 503 ORIGIN_UNAVAILABLE when the origin is down', async () => {
      const res = await call(edgeWithoutOrigin, '/api/merchants/m-1')
      await expectError(res, 503, 'ORIGIN_UNAVAILABLE')
      expect(res.headers.get('x-frame-options')).toBe('DENY')
    })
  })

  describe(`edge on ${runtime}: request guards`, () => {
    it('refuses an oversize body with 413 before calling the origin', async () => {
      const before = originCalls()
      const res = await call(edge, '/api/points/gifts', {
        method: 'POST',
        token: await tokenFor('u-big'),
        body: 'x'.repeat(70 * 1024),
      })
      await expectError(res, 413, 'PAYLOAD_TOO_LARGE')
      expect(originCalls()).toBe(before)
    })

    it.each([
      ['no token', async () => undefined],
      ['an expired token', () => tokenFor('u-1', { expiresInS: -60 })],
      ['alg none', async () => unsignedToken('u-1')],
      ['a token signed with another secret', () => tokenFor('u-1', { secret: 'not-the-secret' })],
    ])('answers 401 for %s without calling the origin', async (_name, makeToken) => {
      const before = originCalls()
      const res = await call(edge, '/api/points/balance', { token: await makeToken() })
      await expectError(res, 401, 'UNAUTHENTICATED')
      expect(originCalls()).toBe(before)
    })

    // Login, the other public route, is covered by the login-limit test: on Deno all callers share
    // one IP, so a login here would eat into that test's budget.
    it('lets a public read through without a token', async () => {
      expect((await call(edge, '/api/merchants/m-public')).status).toBe(200)
    })

    it('puts security headers on every response', async () => {
      const responses = [
        await call(edge, '/api/merchants/m-sec'),
        await call(edge, '/api/me'),
        await call(edge, '/nowhere'),
        await call(edge, '/health'),
      ]
      expect(statuses(responses)).toEqual([200, 401, 404, 200])
      for (const res of responses)
        for (const [name, pattern] of Object.entries(SECURITY_HEADERS))
          expect(res.headers.get(name)).toMatch(pattern)
    })
  })

  describe(`edge on ${runtime}: rate limits`, () => {
    it.runIf(separateIps)(
      'allows exactly the per-IP limit under concurrency, each IP on its own',
      async () => {
        const token = await tokenFor(`u-${crypto.randomUUID()}`)
        const ip = randomIp()
        const burst = await Promise.all(
          Array.from({ length: 50 }, () => call(edge, '/api/me', { ip, token })),
        )
        const list = statuses(burst)
        expect(count(list, 200)).toBe(20)
        expect(count(list, 429)).toBe(30)
        const refused = burst.find((r) => r.status === 429)!
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
        expect(refused.headers.get('ratelimit-remaining')).toBe('0')
        await expectError(refused, 429, 'RATE_LIMITED')
        const ok = burst.find((r) => r.status === 200)!
        expect(ok.headers.get('ratelimit-limit')).toBe('20')
        expect(Number(ok.headers.get('ratelimit-reset'))).toBeGreaterThan(0)

        expect((await call(edge, '/api/me', { ip: randomIp(), token })).status).toBe(200)
      },
    )

    it('lets login through without a token, exactly up to the login limit per IP', async () => {
      const ip = randomIp()
      const burst = await Promise.all(
        Array.from({ length: 12 }, () =>
          call(edge, '/api/auth/login', { ip, method: 'POST', body: '{"code":"code-x"}' }),
        ),
      )
      expect(count(statuses(burst), 200)).toBe(5)
      expect(count(statuses(burst), 429)).toBe(7)
    })

    it('allows exactly the write limit per user, whatever the IPs, and leaves reads alone', async () => {
      const token = await tokenFor(`u-${crypto.randomUUID()}`)
      const burst = await Promise.all(
        Array.from({ length: 50 }, () => call(edge, '/api/orders', { method: 'POST', token, body: '{}' })),
      )
      expect(count(statuses(burst), 200)).toBe(20)
      expect(count(statuses(burst), 429)).toBe(30)
      expect((await call(edge, '/api/orders', { token })).status).toBe(200)
      const other = await tokenFor(`u-${crypto.randomUUID()}`)
      expect((await call(edge, '/api/orders', { method: 'POST', token: other, body: '{}' })).status).toBe(200)
    })

    it('keeps serving, limited per isolate, when Redis is unreachable', async () => {
      const token = await tokenFor(`u-${crypto.randomUUID()}`)
      expect((await call(edgeWithoutRedis, '/api/me', { token })).status).toBe(200)
      const burst = await Promise.all(
        Array.from({ length: 50 }, () =>
          call(edgeWithoutRedis, '/api/orders', { method: 'POST', token, body: '{}' }),
        ),
      )
      expect(count(statuses(burst), 200)).toBe(20)
      expect(count(statuses(burst), 429)).toBe(30)
    })
  })

  describe(`edge on ${runtime}: public cache`, () => {
    it('serves a merchant page from cache until it expires', async () => {
      const path = `/api/merchants/m-${crypto.randomUUID()}`
      const before = originCalls()
      const first = await call(edge, path)
      const second = await call(edge, path)
      expect(first.headers.get('x-cache')).toBe('MISS')
      expect(second.headers.get('x-cache')).toBe('HIT')
      const [a, b] = (await Promise.all([first.json(), second.json()])) as Echo[]
      expect(b!.serial).toBe(a!.serial)
      expect(second.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'))
      if (before !== undefined) expect(originCalls()).toBe(before + 1)

      await new Promise((r) => setTimeout(r, 1_300))
      const third = await call(edge, path)
      expect(third.headers.get('x-cache')).toBe('MISS')
      expect(((await third.json()) as Echo).serial).not.toBe(a!.serial)
    })

    it('never caches a request carrying Authorization', async () => {
      const path = `/api/merchants/m-${crypto.randomUUID()}`
      const token = await tokenFor('u-cache')
      const first = await call(edge, path, { token })
      const second = await call(edge, path, { token })
      expect(first.headers.get('x-cache')).toBeNull()
      expect(second.headers.get('x-cache')).toBeNull()
      const [a, b] = (await Promise.all([first.json(), second.json()])) as Echo[]
      expect(b!.serial).not.toBe(a!.serial)
    })

    it('reports hits and misses on /health', async () => {
      const path = `/api/merchants/m-${crypto.randomUUID()}`
      await call(edge, path)
      await call(edge, path)
      const health = (await (await call(edge, '/health')).json()) as {
        status: string
        cache: { hits: number; misses: number; hitRatio: number }
      }
      expect(health.status).toBe('ok')
      expect(health.cache.hits).toBeGreaterThanOrEqual(1)
      expect(health.cache.misses).toBeGreaterThanOrEqual(1)
      expect(health.cache.hitRatio).toBeGreaterThan(0)
    })
  })
}
