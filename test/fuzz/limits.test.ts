/**
 * Numbers at their documented limits, end to end: every rule the API accepts, with every amount it
 * accepts, must lead to an order that a WeChat payment can settle (or be refused up front, before
 * the shopper pays) — never to a paid order the origin cannot record. Also the largest amounts,
 * grants, gifts and adjustments round-trip exactly.
 */
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { MAX_ADJUST_POINTS, MAX_AMOUNT_FEN, MAX_GIFT_POINTS, MAX_GRANT_POINTS } from '../../shared/schemas.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, adminToken, idemKey, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'
import { FUZZ_SEED, runs, snapshot } from './support.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
}, 60_000)

afterEach(async () => {
  expect(await invariants(stack)).toEqual(HOLDS)
})

afterAll(async () => {
  await stack?.close()
})

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await probe()
    if (v !== undefined || Date.now() > end) return v
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function payAndWait(token: string, order: { id: string; outTradeNo: string }) {
  const paid = await control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo: order.outTradeNo })
  expect(paid.status).toBe(200)
  const settled = await until(async () => {
    const o = await api.get(`/api/orders/${order.id}`, { token })
    return o.body.status === 'PAID' ? o.body : undefined
  }, 3_000)
  const last = await api.get(`/api/orders/${order.id}`, { token })
  return { settled, last: last.body, deliveries: paid.json.deliveries as any[] }
}

describe('rules and amounts at their limits', () => {
  it('a rule the API accepts never yields a paid order the origin cannot settle', async () => {
    const m = await activeMerchant(api, 'Limit Tea')
    const rule = fc.record({
      earnPoints: fc.constantFrom(0, 1, 7, 1_000_000),
      perFen: fc.constantFrom(1, 3, 100, MAX_AMOUNT_FEN),
      minOrderFen: fc.constantFrom(0, 1, MAX_AMOUNT_FEN),
      maxPointsPerOrder: fc.constantFrom(null, 0, 1, MAX_GRANT_POINTS * 100),
      dailyCapPerUser: fc.constantFrom(null, 0, MAX_GRANT_POINTS * 100),
    })
    const amount = fc.constantFrom(1, 99, 1_001, 123_457, MAX_AMOUNT_FEN)
    await fc.assert(
      fc.asyncProperty(rule, amount, async (r, amountFen) => {
        const put = await api.put('/api/merchant/rule', r, { token: m.ownerToken })
        if (put.status !== 200) {
          expect(put.status, put.text).toBe(400)
          return
        }
        const shopper = await api.login(uniqueOpenid('limit'))
        const before = await snapshot(stack)
        const created = await api.post(
          '/api/orders',
          { merchantId: m.merchantId, amountFen },
          { token: shopper.token, idempotencyKey: idemKey() },
        )
        if (created.status !== 201) {
          // Refusing an order the ledger could not award is fine, as long as it is a clean 4xx.
          expect(created.status, created.text).toBeGreaterThanOrEqual(400)
          expect(created.status, created.text).toBeLessThan(500)
          expect(await snapshot(stack)).toEqual(before)
          return
        }
        const { settled, last, deliveries } = await payAndWait(shopper.token, created.body)
        const ctx = `rule ${JSON.stringify(r)} amount ${amountFen}: expectedPoints ${created.body.expectedPoints}, order ${JSON.stringify(last)}, first delivery answered ${deliveries?.[0]?.attempts?.[0]?.status}`
        expect(settled, ctx).toBeDefined()
        // expectedPoints is before the daily cap; a fresh shopper has the whole cap left.
        const award = Math.min(created.body.expectedPoints, r.dailyCapPerUser ?? Number.POSITIVE_INFINITY)
        expect(settled.pointsAwarded, ctx).toBe(award)
        const balance = await api.get('/api/points/balance', { token: shopper.token })
        expect(balance.body.balance, ctx).toBe(award)
        expect(Number.isSafeInteger(balance.body.balance), ctx).toBe(true)
      }),
      {
        seed: FUZZ_SEED,
        numRuns: runs(14),
        // The corners random picks rarely reach together: the biggest earn rate with no caps.
        examples: [
          [
            {
              earnPoints: 1_000_000,
              perFen: 1,
              minOrderFen: 0,
              maxPointsPerOrder: null,
              dailyCapPerUser: null,
            },
            1_001,
          ],
          [
            {
              earnPoints: 1_000_000,
              perFen: 100,
              minOrderFen: 0,
              maxPointsPerOrder: null,
              dailyCapPerUser: null,
            },
            MAX_AMOUNT_FEN,
          ],
        ],
      },
    )
  }, 60_000)

  it('the largest order pays, refunds in full and claws back exactly', async () => {
    const m = await activeMerchant(api, 'Max Amount')
    const shopper = await api.login(uniqueOpenid('max'))
    const created = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen: MAX_AMOUNT_FEN },
      { token: shopper.token, idempotencyKey: idemKey() },
    )
    expect(created.status).toBe(201)
    expect(created.body.expectedPoints).toBe(MAX_AMOUNT_FEN / 100)
    const { settled } = await payAndWait(shopper.token, created.body)
    expect(settled?.pointsAwarded).toBe(MAX_AMOUNT_FEN / 100)
    const tooMuch = await api.post(
      `/api/merchant/orders/${created.body.id}/refunds`,
      { amountFen: MAX_AMOUNT_FEN + 1, reason: 'x' },
      { token: m.ownerToken, idempotencyKey: idemKey() },
    )
    expect(tooMuch.status).toBe(400)
    const refund = await api.post(
      `/api/merchant/orders/${created.body.id}/refunds`,
      { amountFen: MAX_AMOUNT_FEN, reason: 'all of it' },
      { token: m.ownerToken, idempotencyKey: idemKey() },
    )
    expect(refund.status).toBe(202)
    await control(stack.sandbox, 'POST', `/refunds/${refund.body.outRefundNo}/complete`, {
      status: 'SUCCESS',
    })
    const done = await until(async () => {
      const r = await api.get(`/api/merchant/refunds/${refund.body.id}`, { token: m.ownerToken })
      return r.body.status === 'SUCCESS' ? r.body : undefined
    }, 3_000)
    expect(done?.pointsClawedBack).toBe(MAX_AMOUNT_FEN / 100)
    expect((await api.get('/api/points/balance', { token: shopper.token })).body.balance).toBe(0)
    expect((await api.get(`/api/orders/${created.body.id}`, { token: shopper.token })).body).toMatchObject({
      status: 'REFUNDED',
      refundedFen: MAX_AMOUNT_FEN,
    })
  })

  it('grants, gifts and adjustments at their maxima round-trip; one past is refused without effect', async () => {
    const m = await activeMerchant(api, 'Max Grant')
    const u = await userWithPoints(api, MAX_GRANT_POINTS, m)
    const before = await snapshot(stack)
    const overGrant = await api.post(
      '/api/merchant/grants',
      { userId: u.id, points: MAX_GRANT_POINTS + 1, reason: 'x' },
      { token: m.ownerToken },
    )
    expect(overGrant.status).toBe(400)
    const overGift = await api.post('/api/points/gifts', { points: MAX_GIFT_POINTS + 1 }, { token: u.token })
    expect(overGift.status).toBe(400)
    expect(await snapshot(stack)).toEqual(before)

    const gift = await api.post('/api/points/gifts', { points: MAX_GIFT_POINTS }, { token: u.token })
    expect(gift.status).toBe(201)
    const friend = await api.login(uniqueOpenid('friend'))
    const claimed = await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, {
      token: friend.token,
    })
    expect(claimed.status).toBe(200)
    expect(claimed.body.balance).toBe(MAX_GIFT_POINTS)

    const admin = await adminToken(api)
    const up = await api.post(
      '/api/admin/adjustments',
      { userId: friend.user.id, points: MAX_ADJUST_POINTS, reason: 'max' },
      { token: admin, idempotencyKey: idemKey() },
    )
    expect(up.status).toBe(201)
    const beforeOver = await snapshot(stack)
    for (const points of [MAX_ADJUST_POINTS + 1, -MAX_ADJUST_POINTS - 1]) {
      const res = await api.post(
        '/api/admin/adjustments',
        { userId: friend.user.id, points, reason: 'over' },
        { token: admin, idempotencyKey: idemKey() },
      )
      expect(res.status).toBe(400)
    }
    // The sender gave everything away: an adjustment may not take them below zero.
    const belowZero = await api.post(
      '/api/admin/adjustments',
      { userId: u.id, points: -1, reason: 'too far' },
      { token: admin, idempotencyKey: idemKey() },
    )
    expect(belowZero.status).toBe(422)
    expect(await snapshot(stack)).toEqual(beforeOver)
    expect((await api.get('/api/points/balance', { token: friend.token })).body.balance).toBe(
      MAX_ADJUST_POINTS + MAX_GIFT_POINTS,
    )
  })
})
