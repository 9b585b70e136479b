/** Redemption at checkout (API.md §14): points pay part of an order, held at creation, given back
 * by a close or pro rata by refunds; WeChat is charged payableFen. */
import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../sandbox/testing.ts'
import { apiClient } from './harness/client.ts'
import { activeMerchant, idemKey, userWithPoints } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>

beforeAll(async () => {
  stack = await startStack({ env: { ORDER_TTL_SECONDS: '60' } })
  api = apiClient(stack.origin.url)
})
afterEach(async () => {
  expect(await invariants(stack)).toEqual(HOLDS)
})
afterAll(async () => {
  expect(stack.origin.output()).not.toContain('unhandled error')
  await stack?.close()
})

const RULE = { earnPoints: 1, perFen: 10, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null }

async function redeemingMerchant(redeem: { redeemFenPerPoint: number | null; redeemMaxPercent?: number }) {
  const m = await activeMerchant(api)
  const res = await api.put('/api/merchant/rule', { ...RULE, ...redeem }, { token: m.ownerToken })
  expect(res.status).toBe(200)
  return m
}

const createOrder = (token: string, body: Record<string, unknown>, key = idemKey()) =>
  api.post('/api/orders', body, { token, idempotencyKey: key })
const balanceOf = async (token: string) =>
  (await api.get('/api/points/balance', { token })).body.balance as number
const recordsOf = async (token: string) =>
  (await api.get('/api/points/records?limit=100', { token })).body.items as Array<{
    kind: string
    delta: number
    refId: string
  }>
const pay = (outTradeNo: string, opts: Record<string, unknown> = {}) =>
  control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo, ...opts })
const refund = (token: string, orderId: string, amountFen: number) =>
  api.post(
    `/api/merchant/orders/${orderId}/refunds`,
    { amountFen, reason: 'returned goods' },
    { token, idempotencyKey: idemKey() },
  )
const complete = (outRefundNo: string, opts: Record<string, unknown> = {}) =>
  control<any>(stack.sandbox, 'POST', `/refunds/${outRefundNo}/complete`, { status: 'SUCCESS', ...opts })
const stats = async (token: string) => (await api.get('/api/merchant/stats', { token })).body

describe('redemption rule', () => {
  it('stores the redemption fields, defaults them, and refuses bad values with their field', async () => {
    const m = await activeMerchant(api)
    const plain = await api.put('/api/merchant/rule', RULE, { token: m.ownerToken })
    expect(plain.body.rule).toMatchObject({ redeemFenPerPoint: null, redeemMaxPercent: 100 })
    const set = await api.put(
      '/api/merchant/rule',
      { ...RULE, redeemFenPerPoint: 5, redeemMaxPercent: 40 },
      { token: m.ownerToken },
    )
    expect(set.status).toBe(200)
    expect((await api.get('/api/merchant', { token: m.ownerToken })).body.rule).toMatchObject({
      redeemFenPerPoint: 5,
      redeemMaxPercent: 40,
    })
    expect((await api.get(`/api/merchants/${m.merchantId}`)).body.rule).toMatchObject({
      redeemFenPerPoint: 5,
      redeemMaxPercent: 40,
    })
    for (const [bad, field] of [
      [{ redeemFenPerPoint: 0 }, 'redeemFenPerPoint'],
      [{ redeemFenPerPoint: 1.5 }, 'redeemFenPerPoint'],
      [{ redeemMaxPercent: 0 }, 'redeemMaxPercent'],
      [{ redeemMaxPercent: 101 }, 'redeemMaxPercent'],
    ] as const) {
      const res = await api.put('/api/merchant/rule', { ...RULE, ...bad }, { token: m.ownerToken })
      expect(res.status).toBe(400)
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field } })
    }
  })
})

describe('redeeming at checkout', () => {
  it('holds the points, asks WeChat for payableFen and earns on it', async () => {
    const m = await redeemingMerchant({ redeemFenPerPoint: 2, redeemMaxPercent: 50 })
    const u = await userWithPoints(api, 500)
    const created = await createOrder(u.token, {
      merchantId: m.merchantId,
      amountFen: 1000,
      redeemPoints: 100,
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      amountFen: 1000,
      redeemPoints: 100,
      discountFen: 200,
      payableFen: 800,
      expectedPoints: 80,
    })
    expect(await balanceOf(u.token)).toBe(400)
    expect((await recordsOf(u.token))[0]).toMatchObject({
      kind: 'REDEEM',
      delta: -100,
      refId: created.body.id,
    })
    const atWechat = (await control<any>(stack.sandbox, 'GET', `/orders/${created.body.outTradeNo}`)).json
    expect(atWechat.transaction.amount.total).toBe(800)
    expect(Date.parse(atWechat.timeExpire)).toBeGreaterThan(Date.parse(created.body.expiresAt) - 1000)
    expect((await pay(created.body.outTradeNo, { amountFen: 1000 })).status).toBe(409)
    expect((await pay(created.body.outTradeNo, { amountFen: 800, duplicates: 8 })).status).toBe(200)
    const order = (await api.get(`/api/orders/${created.body.id}`, { token: u.token })).body
    expect(order).toMatchObject({ status: 'PAID', pointsAwarded: 80, payableFen: 800, discountFen: 200 })
    expect(await balanceOf(u.token)).toBe(480)
    expect(await stats(m.ownerToken)).toMatchObject({ paidFen: 800, pointsRedeemed: 100, discountFen: 200 })
  })

  it('refuses what the rule does not allow, too few points, and bad input with its field', async () => {
    const none = await redeemingMerchant({ redeemFenPerPoint: null })
    const m = await redeemingMerchant({ redeemFenPerPoint: 10, redeemMaxPercent: 30 })
    const u = await userWithPoints(api, 50)
    const code = async (body: Record<string, unknown>) => {
      const res = await createOrder(u.token, body)
      return [res.status, res.body.error?.code, res.body.error?.details?.field]
    }
    expect(await code({ merchantId: none.merchantId, amountFen: 1000, redeemPoints: 1 })).toEqual([
      422,
      'REDEEM_NOT_ALLOWED',
      'redeemPoints',
    ])
    // 30% of 1000 is 300 fen: 30 points fit, 31 do not.
    expect((await code({ merchantId: m.merchantId, amountFen: 1000, redeemPoints: 31 }))[1]).toBe(
      'REDEEM_NOT_ALLOWED',
    )
    const full = await redeemingMerchant({ redeemFenPerPoint: 10, redeemMaxPercent: 100 })
    // A discount of the whole amount would leave nothing to pay.
    expect((await code({ merchantId: full.merchantId, amountFen: 100, redeemPoints: 10 }))[1]).toBe(
      'REDEEM_NOT_ALLOWED',
    )
    expect((await code({ merchantId: full.merchantId, amountFen: 1000, redeemPoints: 51 }))[0]).toBe(422)
    expect((await code({ merchantId: full.merchantId, amountFen: 1000, redeemPoints: 51 }))[1]).toBe(
      'INSUFFICIENT_POINTS',
    )
    for (const redeemPoints of [0, -1, 1.5, '5']) {
      expect(await code({ merchantId: m.merchantId, amountFen: 1000, redeemPoints })).toEqual([
        400,
        'VALIDATION_FAILED',
        'redeemPoints',
      ])
    }
    expect(await balanceOf(u.token)).toBe(50)
    const ok = await createOrder(u.token, { merchantId: m.merchantId, amountFen: 1000, redeemPoints: 30 })
    expect(ok.body).toMatchObject({ discountFen: 300, payableFen: 700 })
    expect(await balanceOf(u.token)).toBe(20)
  })

  it('answers a repeated request once and holds the points once', async () => {
    const m = await redeemingMerchant({ redeemFenPerPoint: 1 })
    const u = await userWithPoints(api, 100)
    const key = idemKey()
    const body = { merchantId: m.merchantId, amountFen: 500, redeemPoints: 40 }
    const answers = await Promise.all(Array.from({ length: 10 }, () => createOrder(u.token, body, key)))
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([201]))
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1)
    expect(await balanceOf(u.token)).toBe(60)
    const other = await createOrder(u.token, { ...body, redeemPoints: 41 }, key)
    expect(other.status).toBe(409)
    expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    expect(await balanceOf(u.token)).toBe(60)
  })

  it('never holds more than the balance under parallel redemptions', async () => {
    const m = await redeemingMerchant({ redeemFenPerPoint: 1 })
    const u = await userWithPoints(api, 100)
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        createOrder(u.token, { merchantId: m.merchantId, amountFen: 1000, redeemPoints: 30 }),
      ),
    )
    const created = answers.filter((a) => a.status === 201)
    expect(created).toHaveLength(3)
    for (const a of answers.filter((x) => x.status !== 201)) {
      expect(a.status).toBe(422)
      expect(a.body.error.code).toBe('INSUFFICIENT_POINTS')
    }
    expect(await balanceOf(u.token)).toBe(10)
    expect((await recordsOf(u.token)).filter((r) => r.kind === 'REDEEM')).toHaveLength(3)
  })
})

describe('giving redeemed points back', () => {
  it('returns them pro rata over refunds, claws back on payableFen, and nets them out of stats', async () => {
    const m = await redeemingMerchant({ redeemFenPerPoint: 1 })
    const u = await userWithPoints(api, 1000)
    const o = (await createOrder(u.token, { merchantId: m.merchantId, amountFen: 1000, redeemPoints: 333 }))
      .body
    expect(o.payableFen).toBe(667)
    await pay(o.outTradeNo, { amountFen: 667 })
    // 667 earned on 667 fen at 1 point per 10 fen: 66.
    expect(await balanceOf(u.token)).toBe(1000 - 333 + 66)
    // The console's daily figures count what WeChat charged too, as the totals do.
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
    const daily = await api.get(`/api/merchant/stats/daily?from=${today}&to=${today}`, {
      token: m.ownerToken,
    })
    expect(daily.body.items).toMatchObject([{ date: today, orders: 1, paidFen: 667 }])
    expect((await refund(m.ownerToken, o.id, 700)).body.error.code).toBe('REFUND_EXCEEDS_PAID')

    const r1 = await refund(m.ownerToken, o.id, 200)
    await complete(r1.body.outRefundNo, { duplicates: 5 })
    // returned floor(333 × 200 / 667) = 99; clawed back floor(66 × 200 / 667) = 19.
    expect(await balanceOf(u.token)).toBe(1000 - 333 + 66 + 99 - 19)
    expect(await stats(m.ownerToken)).toMatchObject({
      paidFen: 667,
      refundedFen: 200,
      pointsRedeemed: 333 - 99,
      discountFen: 333 - 99,
      pointsClawedBack: 19,
    })
    const r2 = await refund(m.ownerToken, o.id, 467)
    await complete(r2.body.outRefundNo)
    expect((await api.get(`/api/orders/${o.id}`, { token: u.token })).body).toMatchObject({
      status: 'REFUNDED',
      refundedFen: 667,
    })
    expect(await balanceOf(u.token)).toBe(1000)
    const back = (await recordsOf(u.token)).filter((r) => r.kind === 'REDEEM_RETURN')
    expect(back.map((r) => r.delta).sort()).toEqual([234, 99].sort())
    expect(await stats(m.ownerToken)).toMatchObject({
      pointsRedeemed: 0,
      discountFen: 0,
      pointsClawedBack: 66,
    })
  })

  it('forfeits what a refund gives back to an account deleted after paying', async () => {
    const m = await redeemingMerchant({ redeemFenPerPoint: 1 })
    const u = await userWithPoints(api, 500)
    const o = (await createOrder(u.token, { merchantId: m.merchantId, amountFen: 1000, redeemPoints: 300 }))
      .body
    await pay(o.outTradeNo, { amountFen: 700 })
    expect((await api.delete('/api/me', { token: u.token })).status).toBe(200)
    const r = await refund(m.ownerToken, o.id, 700)
    await complete(r.body.outRefundNo, { duplicates: 3 })
    expect((await api.get(`/api/merchant/refunds/${r.body.id}`, { token: m.ownerToken })).body.status).toBe(
      'SUCCESS',
    )
    const [rows] = (await stack.db.primary.execute(
      sql`SELECT a.balance, (SELECT COALESCE(SUM(delta), 0) FROM ledger_entries e
            WHERE e.account_id = a.id AND e.kind = 'ACCOUNT_CLOSED') AS forfeited
          FROM accounts a WHERE a.kind = 'USER' AND a.owner_id = ${Number(u.id)}`,
    )) as unknown as [Array<{ balance: number | string; forfeited: number | string }>]
    // 500 − 300 + 70 earned, all forfeited at deletion; the refund returns 300 and claws back 70,
    // which first pays that claw-back's debt: 230 come back above zero and are forfeited too.
    expect(Number(rows[0]!.balance)).toBe(0)
    expect(Number(rows[0]!.forfeited)).toBe(-(270 + 230))
  })

  it('closes an unpaid order soon after it expires and returns its points once', async () => {
    const fast = await startStack({ env: { ORDER_TTL_SECONDS: '1', JOB_INTERVAL_MS: '300' } })
    try {
      const fastApi = apiClient(fast.origin.url)
      const m = await activeMerchant(fastApi)
      await fastApi.put('/api/merchant/rule', { ...RULE, redeemFenPerPoint: 3 }, { token: m.ownerToken })
      const u = await userWithPoints(fastApi, 90)
      const sentAt = Date.now()
      const o = (
        await fastApi.post(
          '/api/orders',
          { merchantId: m.merchantId, amountFen: 500, redeemPoints: 50 },
          { token: u.token, idempotencyKey: idemKey() },
        )
      ).body
      expect(o.payableFen).toBe(350)
      const atWechat = (await control<any>(fast.sandbox, 'GET', `/orders/${o.outTradeNo}`)).json
      expect(Date.parse(atWechat.timeExpire)).toBeGreaterThanOrEqual(sentAt + 60_000)
      const balance = async () => (await fastApi.get('/api/points/balance', { token: u.token })).body.balance
      expect(await balance()).toBe(40)
      let order = o
      for (let i = 0; i < 40 && order.status !== 'CLOSED'; i++) {
        await new Promise((r) => setTimeout(r, 250))
        const [row] = (await fast.db.primary.execute(
          `SELECT status FROM orders WHERE id = ${Number(o.id)}`,
        )) as unknown as [Array<{ status: string }>]
        order = { ...order, status: row[0]!.status }
      }
      expect(order.status, fast.origin.output()).toBe('CLOSED')
      expect(await balance()).toBe(90)
      expect((await control(fast.sandbox, 'POST', '/pay', { outTradeNo: o.outTradeNo })).status).toBe(409)
      const records = (await fastApi.get('/api/points/records', { token: u.token })).body.items
      expect(records.filter((r: { kind: string }) => r.kind === 'REDEEM_RETURN')).toHaveLength(1)
      expect((await fastApi.get('/api/merchant/stats', { token: m.ownerToken })).body).toMatchObject({
        pointsRedeemed: 0,
        discountFen: 0,
      })
      expect(await invariants(fast)).toEqual(HOLDS)
    } finally {
      await fast.close()
    }
  }, 90_000)
})
