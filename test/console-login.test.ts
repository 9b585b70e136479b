import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../sandbox/testing.ts'
import { type ApiClient, apiClient } from './harness/client.ts'
import { activeMerchant, idemKey, uniqueOpenid } from './harness/fixtures.ts'
import { HOLDS, invariants, REDIS_URL, type Stack, startStack } from './harness/stack.ts'

let stack: Stack
let api: ApiClient

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
})
afterEach(async () => {
  expect(await invariants(stack)).toEqual(HOLDS)
})
afterAll(async () => {
  expect(stack.origin.output()).not.toContain('unhandled error')
  await stack?.close()
})

const openSession = async () => {
  const res = await api.post('/api/console/sessions')
  expect(res.status).toBe(201)
  return res.body as { id: string; qrcode: string; expiresAt: string }
}

describe('console scan-to-login (API.md §17)', () => {
  it('hands the approving user an 8-hour token exactly once, then reports USED', async () => {
    const session = await openSession()
    expect(session.qrcode).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/)
    const lifeMs = Date.parse(session.expiresAt) - Date.now()
    expect(lifeMs).toBeGreaterThan(100_000)
    expect(lifeMs).toBeLessThanOrEqual(120_000)
    const qrRequests = await control<{ items: Array<{ body: string }> }>(
      stack.sandbox,
      'GET',
      `/requests?pathPrefix=${encodeURIComponent('/wxa/getwxacodeunlimit')}`,
    )
    expect(qrRequests.json.items.some((r) => r.body.includes(`c=${session.id}`))).toBe(true)

    expect((await api.get(`/api/console/sessions/${session.id}`)).body.status).toBe('PENDING')
    const m = await activeMerchant(api)
    const unauthenticated = await api.post(`/api/console/sessions/${session.id}/approve`)
    expect(unauthenticated.status).toBe(401)
    const approved = await api.post(`/api/console/sessions/${session.id}/approve`, undefined, {
      token: m.ownerToken,
    })
    expect(approved.status).toBe(200)

    const polls = await Promise.all(
      Array.from({ length: 5 }, () => api.get(`/api/console/sessions/${session.id}`)),
    )
    const withToken = polls.filter((p) => p.body.token)
    expect(withToken).toHaveLength(1)
    const handed = withToken[0]!.body
    expect(handed.status).toBe('APPROVED')
    const ttlMs = Date.parse(handed.tokenExpiresAt) - Date.now()
    expect(ttlMs).toBeGreaterThan(8 * 3600_000 - 60_000)
    expect(ttlMs).toBeLessThanOrEqual(8 * 3600_000)
    for (const p of polls.filter((p) => !p.body.token)) expect(p.body.status).toBe('USED')

    const merchant = await api.get('/api/merchant', { token: handed.token })
    expect(merchant.status).toBe(200)
    expect(merchant.body.id).toBe(m.merchantId)
    const second = await api.post(`/api/console/sessions/${session.id}/approve`, undefined, {
      token: m.ownerToken,
    })
    expect(second.status).toBe(409)
  })

  it('lets only one of two concurrent approvals win', async () => {
    const session = await openSession()
    const [a, b] = await Promise.all([api.login(uniqueOpenid('a')), api.login(uniqueOpenid('b'))])
    const answers = await Promise.all(
      [a, b].map((u) =>
        api.post(`/api/console/sessions/${session.id}/approve`, undefined, { token: u.token }),
      ),
    )
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409])
    const handed = await api.get(`/api/console/sessions/${session.id}`)
    const me = await api.get('/api/me', { token: handed.body.token })
    const winner = answers[0]!.status === 200 ? a : b
    expect(me.body.id).toBe(winner.user.id)
  })

  it('reports a session past its 120 s as EXPIRED and refuses to approve it', async () => {
    const session = await openSession()
    const redis = new Redis(REDIS_URL)
    try {
      // Stands in for two minutes passing: the session's deadline is what the scripts compare.
      await redis.hset(`console:session:${session.id}`, 'expiresAt', String(Date.now() - 1))
    } finally {
      redis.disconnect()
    }
    expect((await api.get(`/api/console/sessions/${session.id}`)).body.status).toBe('EXPIRED')
    const user = await api.login(uniqueOpenid('late'))
    const late = await api.post(`/api/console/sessions/${session.id}/approve`, undefined, {
      token: user.token,
    })
    expect(late.status).toBe(409)
    expect(late.body.error.code).toBe('INVALID_STATE')
    expect((await api.get(`/api/console/sessions/${session.id}`)).body).toEqual({
      status: 'EXPIRED',
      expiresAt: expect.any(String),
    })
  })

  it('answers 404 for unknown and malformed session ids', async () => {
    expect((await api.get('/api/console/sessions/AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404)
    expect((await api.get('/api/console/sessions/short')).status).toBe(404)
  })
})

describe('GET /api/merchant/stats/daily', () => {
  it('buckets paid orders by Asia/Shanghai day, zero days included', async () => {
    const m = await activeMerchant(api)
    const shopper = await api.login(uniqueOpenid('shopper'))
    const created = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen: 1234 },
      { token: shopper.token, idempotencyKey: idemKey() },
    )
    expect(created.status).toBe(201)
    await control(stack.sandbox, 'POST', '/pay', { outTradeNo: created.body.outTradeNo })
    const shanghai = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10)
    const today = shanghai(Date.now())
    const from = shanghai(Date.now() - 13 * 86_400_000)
    let items: Array<Record<string, unknown>> = []
    for (let i = 0; i < 50; i++) {
      const res = await api.get(`/api/merchant/stats/daily?from=${from}&to=${today}`, { token: m.ownerToken })
      expect(res.status).toBe(200)
      items = res.body.items
      if (items.at(-1)?.orders === 1) break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(items).toHaveLength(14)
    expect(items[0]!.date).toBe(from)
    expect(items.at(-1)).toEqual({
      date: today,
      orders: 1,
      paidFen: 1234,
      refundedFen: 0,
      pointsIssued: 12,
      pointsClawedBack: 0,
    })
    expect(items.slice(0, -1).every((d) => d.orders === 0 && d.pointsIssued === 0)).toBe(true)

    const backwards = await api.get(`/api/merchant/stats/daily?from=${today}&to=${from}`, {
      token: m.ownerToken,
    })
    expect(backwards.status).toBe(400)
    expect(backwards.body.error.details.field).toBe('to')
    const tooLong = await api.get('/api/merchant/stats/daily?from=2026-01-01&to=2026-12-31', {
      token: m.ownerToken,
    })
    expect(tooLong.status).toBe(400)
    const shopperAsks = await api.get(`/api/merchant/stats/daily?from=${from}&to=${today}`, {
      token: shopper.token,
    })
    expect(shopperAsks.status).toBe(403)
  })
})
