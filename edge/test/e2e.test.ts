/**
 * The real edge (workerd and Deno) in front of the real origin, the WeChat sandbox, MariaDB and
 * Redis: what the mini-program sees end to end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { ADMIN_OPENID, HOLDS, invariants, type Stack } from '../../test/harness/stack.ts'
import { type EdgeHandle, edgeEnv, type Runtime, startEdge } from './support/harness.ts'
import { type RealStack, startRealStack } from './support/real-stack.ts'

let real: RealStack
let stack: Stack

beforeAll(async () => {
  real = await startRealStack(3)
  stack = real.stack
})
afterAll(async () => {
  if (stack) expect(await invariants(stack)).toEqual(HOLDS)
  await real?.close()
})

function client(edge: EdgeHandle) {
  return async (method: string, path: string, opts: { token?: string; body?: unknown; ip?: string } = {}) => {
    const headers: Record<string, string> = { 'cf-connecting-ip': opts.ip ?? '203.0.113.7' }
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(edge.url + path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null }
  }
}

describe.each<Runtime>(['workerd', 'deno'])('edge on %s → origin', (runtime) => {
  let edge: EdgeHandle
  let call: ReturnType<typeof client>
  const login = async (openid: string) => {
    const res = await call('POST', '/api/auth/login', { body: { code: `code-${openid}` } })
    expect(res.status).toBe(200)
    return res.body.token as string
  }

  beforeAll(async () => {
    edge = await startEdge(runtime, real.edgeEnv())
    call = client(edge)
  })
  afterAll(async () => {
    await edge?.close()
  })

  it('logs in and reads the profile through the edge', async () => {
    const token = await login(`e2e-${runtime}-reader`)
    const me = await call('GET', '/api/me', { token })
    expect(me.status).toBe(200)
    expect(me.body).toMatchObject({ roles: ['user'], merchantId: null })
    expect(me.headers.get('x-request-id')).toBeTruthy()
    expect(me.headers.get('strict-transport-security')).toBeTruthy()
  })

  it('carries writes: a merchant is approved, points are adjusted, a gift moves between users', async () => {
    const admin = await login(ADMIN_OPENID)
    const owner = await login(`e2e-${runtime}-owner`)
    const applied = await call('POST', '/api/merchants/applications', {
      token: owner,
      body: { name: `Edge Cafe ${runtime}`, contactPhone: '13800138000' },
    })
    expect(applied.status).toBe(201)
    const merchantId = applied.body.merchantId
    expect((await call('POST', `/api/admin/merchants/${merchantId}/approve`, { token: admin })).status).toBe(
      200,
    )

    const first = await call('GET', `/api/merchants/${merchantId}`)
    expect(first.status).toBe(200)
    expect(first.headers.get('x-cache')).toBe('MISS')
    const second = await call('GET', `/api/merchants/${merchantId}`)
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(second.body).toEqual(first.body)

    const alice = await login(`e2e-${runtime}-alice`)
    const bob = await login(`e2e-${runtime}-bob`)
    const aliceId = (await call('GET', '/api/me', { token: alice })).body.id
    const adjusted = await call('POST', '/api/admin/adjustments', {
      token: admin,
      body: { userId: aliceId, points: 50, reason: 'e2e' },
    })
    expect(adjusted.status).toBe(201)
    const gift = await call('POST', '/api/points/gifts', {
      token: alice,
      body: { points: 20, message: '🍵' },
    })
    expect(gift.status).toBe(201)
    const claimed = await call('POST', `/api/points/gifts/${gift.body.code}/claim`, { token: bob })
    expect(claimed.status).toBe(200)
    expect(claimed.body.balance).toBe(20)
    expect((await call('GET', '/api/points/balance', { token: alice })).body).toMatchObject({ balance: 30 })
    const balanceAgain = await call('GET', '/api/points/balance', { token: alice })
    expect(balanceAgain.headers.get('x-cache')).toBeNull()
  })

  it('runs the pay loop: order, WeChat pays, the order is seen PAID with points', async () => {
    const admin = await login(ADMIN_OPENID)
    const owner = await login(`e2e-${runtime}-payowner`)
    const applied = await call('POST', '/api/merchants/applications', {
      token: owner,
      body: { name: 'Pay Shop', contactPhone: '13800138000' },
    })
    await call('POST', `/api/admin/merchants/${applied.body.merchantId}/approve`, { token: admin })
    const shopper = await login(`e2e-${runtime}-shopper`)
    const order = await call('POST', '/api/orders', {
      token: shopper,
      body: { merchantId: applied.body.merchantId, amountFen: 4200 },
    })
    expect(order.status).toBe(201)
    expect(order.body.payParams.paySign).toEqual(expect.any(String))
    expect((await control(stack.sandbox, 'POST', '/pay', { outTradeNo: order.body.outTradeNo })).status).toBe(
      200,
    )
    const seen = await call('GET', `/api/orders/${order.body.id}`, { token: shopper })
    expect(seen.body).toMatchObject({ status: 'PAID', pointsAwarded: 42 })
  })

  it('takes a suspended merchant page out of the cache at once, and its owner can no longer write', async () => {
    const admin = await login(ADMIN_OPENID)
    const owner = await login(`e2e-${runtime}-suspended`)
    const applied = await call('POST', '/api/merchants/applications', {
      token: owner,
      body: { name: 'Soon Suspended', contactPhone: '13800138000' },
    })
    const id = applied.body.merchantId
    await call('POST', `/api/admin/merchants/${id}/approve`, { token: admin })
    expect((await call('GET', `/api/merchants/${id}`)).headers.get('x-cache')).toBe('MISS')
    const hit = await call('GET', `/api/merchants/${id}`)
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(hit.status).toBe(200)

    expect((await call('POST', `/api/admin/merchants/${id}/suspend`, { token: admin })).status).toBe(200)
    const after = await call('GET', `/api/merchants/${id}`)
    expect(after.status).toBe(404)
    expect(after.headers.get('x-cache')).toBe('MISS')
    const rule = await call('PUT', '/api/merchant/rule', {
      token: owner,
      body: { earnPoints: 1, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
    })
    expect(rule.status).toBe(422)
    expect(rule.body.error.code).toBe('MERCHANT_NOT_ACTIVE')
  })

  it('serves the OpenAPI document and the docs page from the origin', async () => {
    const doc = await call('GET', '/openapi.json')
    expect(doc.status).toBe(200)
    expect(doc.body.paths['/api/orders'].post).toBeTruthy()
    const page = await fetch(`${edge.url}/docs`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Points API')
  })

  it('answers 401 without a token and never lets client X-Edge-* headers through', async () => {
    const res = await call('GET', '/api/points/balance')
    expect(res.status).toBe(401)
    expect(res.body.error.code).toBe('UNAUTHENTICATED')
    const spoofed = await fetch(`${edge.url}/api/merchants/999999`, {
      headers: { 'x-edge-key-id': 'evil', 'x-edge-signature': 'AAAA', 'x-client-ip': '1.2.3.4' },
    })
    expect(spoofed.status).toBe(404)
  })
})

describe('an edge with the wrong signing secret', () => {
  it('is refused by the origin (401 EDGE_SIGNATURE_INVALID passed back)', async () => {
    const edge = await startEdge(
      'workerd',
      edgeEnv(stack.origin.url, { EDGE_SIGNING_SECRET: 'not-the-origins-secret' }),
    )
    try {
      const res = await client(edge)('POST', '/api/auth/login', { body: { code: 'code-forger' } })
      expect(res.status).toBe(401)
      expect(res.body.error.code).toBe('EDGE_SIGNATURE_INVALID')
    } finally {
      await edge.close()
    }
  })
})
