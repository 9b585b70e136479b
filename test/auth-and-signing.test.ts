import { describe, expect, it } from 'vitest'
import { uniqueOpenid } from './harness/fixtures.ts'
import { ADMIN_OPENID, HOLDS, invariants } from './harness/stack.ts'
import { useStack } from './harness/use-stack.ts'

const file = useStack()

describe('login', () => {
  it('logs in with a wx.login code, issues a token and creates the user once', async () => {
    const openid = uniqueOpenid()
    const first = await file.api.post('/api/auth/login', { code: `code-${openid}` })
    expect(first.status).toBe(200)
    expect(first.body.user).toEqual({ id: expect.any(String), roles: ['user'], merchantId: null })
    expect(Date.parse(first.body.expiresAt)).toBeGreaterThan(Date.now())
    const again = await file.api.login(openid)
    expect(again.user.id).toBe(first.body.user.id)
    const me = await file.api.get('/api/me', { token: first.body.token })
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ id: first.body.user.id, roles: ['user'], merchantId: null })
  })

  it('gives the admin role to ADMIN_OPENIDS', async () => {
    const admin = await file.api.login(ADMIN_OPENID)
    expect(admin.user.roles).toContain('admin')
  })

  it('refuses a code WeChat rejects with 401 naming the field', async () => {
    const res = await file.api.post('/api/auth/login', { code: 'not-a-sandbox-code' })
    expect(res.status).toBe(401)
    expect(res.body.error.code).toBe('UNAUTHENTICATED')
    expect(res.body.error.details.field).toBe('code')
  })

  it('validates the body: missing code, malformed JSON, wrong content type', async () => {
    const missing = await file.api.post('/api/auth/login', {})
    expect(missing.status).toBe(400)
    expect(missing.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'code' } })
    const malformed = await file.api.call('POST', '/api/auth/login', { rawBody: '{"code":' })
    expect(malformed.status).toBe(400)
    expect(malformed.body.error.code).toBe('VALIDATION_FAILED')
    const form = await file.api.call('POST', '/api/auth/login', {
      rawBody: 'code=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(form.status).toBe(400)
    expect(form.body.error.details.field).toBe('Content-Type')
  })

  it('answers PATCH /api/me with the updated profile and rejects unknown fields', async () => {
    const u = await file.api.login(uniqueOpenid())
    const ok = await file.api.patch(
      '/api/me',
      { nickname: 'Mei', avatarUrl: 'https://img.example/a.png' },
      { token: u.token },
    )
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ nickname: 'Mei', avatarUrl: 'https://img.example/a.png' })
    const bad = await file.api.patch('/api/me', { nickname: '' }, { token: u.token })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.field).toBe('nickname')
    const extra = await file.api.patch('/api/me', { roles: ['admin'] }, { token: u.token })
    expect(extra.status).toBe(400)
  })

  it('refuses missing, malformed, forged and expired tokens', async () => {
    expect((await file.api.get('/api/me')).status).toBe(401)
    expect((await file.api.get('/api/me', { token: 'abc.def.ghi' })).status).toBe(401)
    const { sign } = await import('hono/jwt')
    const now = Math.floor(Date.now() / 1000)
    const forged = await sign({ sub: '1', exp: now + 60 }, 'x'.repeat(40), 'HS256')
    expect((await file.api.get('/api/me', { token: forged })).status).toBe(401)
    const { JWT_SECRET } = await import('./harness/stack.ts')
    const expired = await sign({ sub: '1', exp: now - 10 }, JWT_SECRET, 'HS256')
    const res = await file.api.get('/api/me', { token: expired })
    expect(res.status).toBe(401)
    expect(res.body.error.code).toBe('UNAUTHENTICATED')
  })
})

describe('edge signature (API.md §6)', () => {
  const path = '/api/merchants/1'
  const expectRefused = (res: { status: number; body: any }) => {
    expect(res.status).toBe(401)
    expect(res.body.error.code).toBe('EDGE_SIGNATURE_INVALID')
  }

  it('refuses unsigned requests, unknown keys and wrong secrets', async () => {
    expectRefused(await file.api.get(path, { sign: false }))
    expectRefused(await file.api.get(path, { sign: { keyId: 'nope' } }))
    expectRefused(await file.api.get(path, { sign: { secret: 'wrong-secret-wrong-secret' } }))
  })

  it('refuses stale and future timestamps', async () => {
    // Just outside the 300 s window however long the request takes to arrive: a stale stamp only
    // gets staler, but a future one shrinks toward the window by the seconds spent in transit, so
    // it is taken from the next whole second plus a second of slack (301 from a floored `now`
    // was accepted once on a loaded CI machine, the request landing over a second later).
    const seconds = Date.now() / 1000
    expectRefused(await file.api.get(path, { sign: { timestampSeconds: Math.floor(seconds) - 301 } }))
    expectRefused(await file.api.get(path, { sign: { timestampSeconds: Math.ceil(seconds) + 302 } }))
  })

  it('refuses a replayed nonce', async () => {
    const { edgeSignatureHeaders } = await import('../shared/edge-signing.ts')
    const { EDGE_KEY_ID, EDGE_SECRET } = await import('./harness/stack.ts')
    const headers = await edgeSignatureHeaders(EDGE_KEY_ID, EDGE_SECRET, {
      method: 'GET',
      pathWithQuery: path,
      body: '',
      authorization: '',
    })
    const first = await fetch(file.stack.origin.url + path, { headers })
    expect(first.status).toBe(404)
    const replay = await fetch(file.stack.origin.url + path, { headers })
    expect(replay.status).toBe(401)
    expect((await replay.json()).error.code).toBe('EDGE_SIGNATURE_INVALID')
  })

  it('refuses a body or path altered after signing', async () => {
    const { edgeSignatureHeaders } = await import('../shared/edge-signing.ts')
    const { EDGE_KEY_ID, EDGE_SECRET } = await import('./harness/stack.ts')
    const signed = await edgeSignatureHeaders(EDGE_KEY_ID, EDGE_SECRET, {
      method: 'POST',
      pathWithQuery: '/api/auth/login',
      body: '{"code":"code-a"}',
      authorization: '',
    })
    const altered = await fetch(`${file.stack.origin.url}/api/auth/login`, {
      method: 'POST',
      headers: { ...signed, 'content-type': 'application/json' },
      body: '{"code":"code-b"}',
    })
    expect(altered.status).toBe(401)
    const otherPath = await fetch(`${file.stack.origin.url}/api/auth/login?x=1`, {
      method: 'POST',
      headers: { ...signed, 'content-type': 'application/json' },
      body: '{"code":"code-a"}',
    })
    expect(otherPath.status).toBe(401)
  })

  it('accepts the old key while it is listed and refuses it once removed (rotation)', async () => {
    await file.stack.restartOrigin({
      EDGE_SIGNING_KEYS: `k0:old-secret-old-secret,k1:${(await import('./harness/stack.ts')).EDGE_SECRET}`,
    })
    const withOld = await file.api.get(path, { sign: { keyId: 'k0', secret: 'old-secret-old-secret' } })
    expect(withOld.status).toBe(404)
    await file.stack.restartOrigin()
    expectRefused(await file.api.get(path, { sign: { keyId: 'k0', secret: 'old-secret-old-secret' } }))
    expect((await file.api.get(path)).status).toBe(404)
  })
})

describe('operations endpoints', () => {
  it('answers /health, /ready and /metrics with the API.md §7 metric names', async () => {
    expect((await fetch(`${file.stack.origin.url}/health`)).status).toBe(200)
    const ready = await fetch(`${file.stack.origin.url}/ready`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ checks: { mysql: 'ok', redis: 'ok' } })
    const metrics = await (await fetch(`${file.stack.origin.url}/metrics`)).text()
    for (const name of [
      'http_requests_total',
      'http_request_duration_seconds',
      'payment_total',
      'payment_success_total',
      'points_award_total',
      'points_award_success_total',
    ]) {
      expect(metrics).toContain(name)
    }
  })

  it('echoes X-Request-Id and answers unknown routes 404 in the error format', async () => {
    const res = await file.api.get('/api/nope', { headers: { 'x-request-id': 'req-123' } })
    expect(res.status).toBe(404)
    expect(res.headers.get('x-request-id')).toBe('req-123')
    expect(res.body).toEqual({
      error: { code: 'NOT_FOUND', message: expect.any(String) },
      requestId: 'req-123',
    })
    const bare = await fetch(`${file.stack.origin.url}/nowhere`)
    expect(bare.status).toBe(404)
    expect(bare.headers.get('x-request-id')).toMatch(/.+/)
  })

  it('puts X-Request-Id on every kind of answer: JSON, thrown errors, text, HTML and WeChat replies', async () => {
    const answers: Array<[string, RequestInit | undefined, number]> = [
      ['/health', undefined, 200],
      ['/metrics', undefined, 200],
      ['/docs', undefined, 200],
      ['/api/points/balance', undefined, 401],
      ['/api/payment/callback', { method: 'POST', body: '{}' }, 401],
    ]
    for (const [path, init, status] of answers) {
      const res = await fetch(`${file.stack.origin.url}${path}`, {
        ...init,
        headers: { 'x-request-id': `rid-${status}` },
      })
      expect([path, res.status]).toEqual([path, status])
      expect([path, res.headers.get('x-request-id')]).toEqual([path, `rid-${status}`])
      await res.arrayBuffer()
    }
  })

  it('serves the OpenAPI document generated from the zod schemas, and a docs page', async () => {
    const res = await fetch(`${file.stack.origin.url}/openapi.json`)
    expect(res.status).toBe(200)
    const doc = await res.json()
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/orders', '/api/points/gifts', '/api/admin/adjustments']),
    )
    const gift = doc.paths['/api/points/gifts'].post
    expect(gift.requestBody.content['application/json'].schema.properties.points).toMatchObject({
      type: 'integer',
      minimum: 1,
    })
    expect(gift.parameters.map((p: { name: string }) => p.name)).toContain('Idempotency-Key')
    const page = await fetch(`${file.stack.origin.url}/docs`)
    expect(page.headers.get('content-type')).toContain('text/html')
    expect(await page.text()).toContain('openapi.json')
  })

  it('refuses an oversized body with 413', async () => {
    const res = await file.api.call('POST', '/api/auth/login', {
      rawBody: JSON.stringify({ code: 'x'.repeat(70_000) }),
    })
    expect(res.status).toBe(413)
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE')
  })

  it('counts a chunked body, which announces no length, and refuses it past the limit', async () => {
    const chunked = (path: string, bytes: number) => {
      const chunk = new TextEncoder().encode('x'.repeat(1024))
      let sent = 0
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= bytes) return controller.close()
          sent += chunk.length
          controller.enqueue(chunk)
        },
      })
      return fetch(`${file.stack.origin.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit)
    }
    const big = await chunked('/api/auth/login', 70_000)
    expect(big.status).toBe(413)
    expect((await big.json()).error.code).toBe('PAYLOAD_TOO_LARGE')
    // Under the limit it gets as far as the edge-signature check.
    const small = await chunked('/api/auth/login', 2_000)
    expect(small.status).toBe(401)
    expect((await small.json()).error.code).toBe('EDGE_SIGNATURE_INVALID')
    // WeChat's callbacks answer in WeChat's format.
    const callback = await chunked('/api/payment/callback', 70_000)
    expect(callback.status).toBe(413)
    expect(await callback.json()).toMatchObject({ code: 'FAIL' })
  })

  it('leaves the ledger invariants intact', async () => {
    expect(await invariants(file.stack)).toEqual(HOLDS)
  })
})
