import { generateKeyPairSync } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildNotification } from '../sandbox/notifications.ts'
import { control, notificationKeys } from '../sandbox/testing.ts'
import { apiClient } from './harness/client.ts'
import { activeMerchant, adminToken, enlistStaff, idemKey, uniqueOpenid } from './harness/fixtures.ts'
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

const sandboxPay = (outTradeNo: string, opts: Record<string, unknown> = {}) =>
  control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo, ...opts })

async function shopper() {
  const u = await api.login(uniqueOpenid('shopper'))
  return { token: u.token, id: u.user.id }
}

async function order(token: string, merchantId: string, amountFen: number) {
  const res = await api.post('/api/orders', { merchantId, amountFen }, { token, idempotencyKey: idemKey() })
  expect(res.status).toBe(201)
  return res.body as { id: string; outTradeNo: string; expectedPoints: number }
}

const balanceOf = async (token: string) =>
  (await api.get('/api/points/balance', { token })).body.balance as number
const orderOf = async (token: string, id: string) => (await api.get(`/api/orders/${id}`, { token })).body

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${stack.origin.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : 0
}

describe('scan to pay', () => {
  it('creates an order with wx.requestPayment params, and a payment awards points once', async () => {
    const m = await activeMerchant(api)
    await api.put(
      '/api/merchant/rule',
      { earnPoints: 3, perFen: 100, minOrderFen: 100, maxPointsPerOrder: null, dailyCapPerUser: null },
      { token: m.ownerToken },
    )
    const s = await shopper()
    const before = {
      payments: await metric('payment_total'),
      pay: await metric('payment_success_total'),
      awards: await metric('points_award_total'),
      award: await metric('points_award_success_total'),
    }
    const created = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen: 1250 },
      { token: s.token, idempotencyKey: idemKey() },
    )
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      status: 'PENDING',
      merchantId: m.merchantId,
      amountFen: 1250,
      expectedPoints: 36,
      outTradeNo: expect.stringMatching(/^[A-Za-z0-9_-]{6,32}$/),
      payParams: {
        appId: stack.env.WECHAT_APPID,
        signType: 'RSA',
        package: expect.stringMatching(/^prepay_id=/),
      },
    })
    expect(created.body.payParams.timeStamp).toMatch(/^[0-9]{10}$/)
    const paid = await sandboxPay(created.body.outTradeNo)
    expect(paid.status).toBe(200)
    const o = await orderOf(s.token, created.body.id)
    expect(o).toMatchObject({ status: 'PAID', pointsAwarded: 36, refundedFen: 0, paidAt: expect.any(String) })
    expect(await balanceOf(s.token)).toBe(36)
    const records = (await api.get('/api/points/records', { token: s.token })).body.items
    expect(records).toEqual([
      expect.objectContaining({
        kind: 'EARN',
        delta: 36,
        balanceAfter: 36,
        refId: created.body.id,
        merchantId: m.merchantId,
      }),
    ])
    expect(await metric('payment_total')).toBe(before.payments + 1)
    expect(await metric('payment_success_total')).toBe(before.pay + 1)
    expect(await metric('points_award_total')).toBe(before.awards + 1)
    expect(await metric('points_award_success_total')).toBe(before.award + 1)
    const list = await api.get('/api/orders', { token: s.token })
    expect(list.body.items[0]).toMatchObject({ id: created.body.id, status: 'PAID' })
  })

  it('validates order input and refuses inactive merchants', async () => {
    const s = await shopper()
    for (const amountFen of [0, -1, 1.5, 1_000_000_001, '100']) {
      const bad = await api.post('/api/orders', { merchantId: '1', amountFen }, { token: s.token })
      expect(bad.status).toBe(400)
      expect(bad.body.error.details.field).toBe('amountFen')
    }
    expect(
      (await api.post('/api/orders', { merchantId: '999999', amountFen: 100 }, { token: s.token })).status,
    ).toBe(404)
    const m = await activeMerchant(api)
    await api.post(`/api/admin/merchants/${m.merchantId}/suspend`, undefined, {
      token: await adminToken(api),
    })
    const suspended = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen: 100 },
      { token: s.token },
    )
    expect(suspended.status).toBe(422)
    expect(suspended.body.error.code).toBe('MERCHANT_NOT_ACTIVE')
  })

  it('returns the same order for 20 concurrent duplicates of one order request', async () => {
    const m = await activeMerchant(api)
    const s = await shopper()
    const key = idemKey()
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        api.post(
          '/api/orders',
          { merchantId: m.merchantId, amountFen: 500 },
          { token: s.token, idempotencyKey: key },
        ),
      ),
    )
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201))
    expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1)
    expect((await api.get('/api/orders', { token: s.token })).body.items).toHaveLength(1)
  })

  it('awards once for 30 concurrent duplicate notifications', async () => {
    const m = await activeMerchant(api)
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 9900)
    const paid = await sandboxPay(o.outTradeNo, { duplicates: 30 })
    expect(paid.status).toBe(200)
    expect(await balanceOf(s.token)).toBe(99)
    expect((await orderOf(s.token, o.id)).status).toBe('PAID')
    const records = (await api.get('/api/points/records', { token: s.token })).body.items
    expect(records).toHaveLength(1)
  })

  it('awards each of 10 orders once under 8 interleaved deliveries each', async () => {
    const m = await activeMerchant(api)
    const s = await shopper()
    const orders = await Promise.all(
      Array.from({ length: 10 }, (_, i) => order(s.token, m.merchantId, 100 * (i + 1))),
    )
    await Promise.all(orders.map((o) => sandboxPay(o.outTradeNo, { duplicates: 8 })))
    expect(await balanceOf(s.token)).toBe(55)
    const records = (await api.get('/api/points/records?limit=100', { token: s.token })).body.items
    expect(records).toHaveLength(10)
  })

  it('marks a paid order PAID by active query when the notification is lost', async () => {
    const m = await activeMerchant(api)
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 2000)
    await sandboxPay(o.outTradeNo, { deliver: false })
    expect((await orderOf(s.token, o.id)).status).toBe('PENDING')
    await new Promise((r) => setTimeout(r, 5200))
    const seen = await orderOf(s.token, o.id)
    expect(seen).toMatchObject({ status: 'PAID', pointsAwarded: 20 })
    expect(await balanceOf(s.token)).toBe(20)
  })

  it('caps awards per order and per user per merchant per day', async () => {
    const m = await activeMerchant(api)
    await api.put(
      '/api/merchant/rule',
      { earnPoints: 1, perFen: 10, minOrderFen: 0, maxPointsPerOrder: 60, dailyCapPerUser: 100 },
      { token: m.ownerToken },
    )
    const s = await shopper()
    const orders = await Promise.all([
      order(s.token, m.merchantId, 1000),
      order(s.token, m.merchantId, 1000),
      order(s.token, m.merchantId, 1000),
    ])
    expect(orders[0]!.expectedPoints).toBe(60)
    await Promise.all(orders.map((o) => sandboxPay(o.outTradeNo, { duplicates: 3 })))
    expect(await balanceOf(s.token)).toBe(100)
    const awarded = await Promise.all(orders.map(async (o) => (await orderOf(s.token, o.id)).pointsAwarded))
    expect(awarded.sort((a, b) => a - b)).toEqual([0, 40, 60])
  })

  it('applies the rule in force when the order was created', async () => {
    const m = await activeMerchant(api)
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 1000)
    await api.put(
      '/api/merchant/rule',
      { earnPoints: 50, perFen: 1, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
      { token: m.ownerToken },
    )
    await sandboxPay(o.outTradeNo)
    expect((await orderOf(s.token, o.id)).pointsAwarded).toBe(10)
  })

  it('lets only the payer read an order', async () => {
    const m = await activeMerchant(api)
    const [a, b] = [await shopper(), await shopper()]
    const o = await order(a.token, m.merchantId, 100)
    expect((await api.get(`/api/orders/${o.id}`, { token: b.token })).status).toBe(404)
    expect((await api.get(`/api/orders/${o.id}`, { token: a.token })).status).toBe(200)
  })
})

describe('forged and mismatched notifications change nothing', () => {
  const post = (n: { headers: Record<string, string>; body: string }) =>
    fetch(`${stack.origin.url}/api/payment/callback`, { method: 'POST', headers: n.headers, body: n.body })

  it('refuses other keys, unknown serials, tampering, stale timestamps, SIGNTEST probes and wrong amounts, ids', async () => {
    const m = await activeMerchant(api)
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 3000)
    const sandboxOrder = (await control<any>(stack.sandbox, 'GET', `/orders/${o.outTradeNo}`)).json
    const base = {
      appid: stack.env.WECHAT_APPID,
      mchid: stack.env.WECHAT_MCHID,
      out_trade_no: o.outTradeNo,
      transaction_id: '4200000000000000000000000001',
      trade_type: 'JSAPI',
      trade_state: 'SUCCESS',
      success_time: new Date().toISOString(),
      payer: { openid: 'whoever' },
      amount: { total: 3000, payer_total: 3000, currency: 'CNY', payer_currency: 'CNY' },
    }
    expect(sandboxOrder.transaction.out_trade_no).toBe(o.outTradeNo)
    const keys = notificationKeys(stack.sandbox)
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString()
    const spec = (resource: Record<string, unknown>) => ({ eventType: 'TRANSACTION.SUCCESS', resource })
    const cases: Array<[string, { headers: Record<string, string>; body: string }, number]> = [
      ['other key', buildNotification(spec(base), keys, { signWith: otherKey }), 401],
      [
        'unknown serial',
        buildNotification(spec(base), keys, { serial: 'PUB_KEY_ID_0000000000000000000000000000000001' }),
        401,
      ],
      ['tampered ciphertext', buildNotification(spec(base), keys, { tamperCiphertext: true }), 401],
      [
        'stale timestamp',
        buildNotification(spec(base), keys, { timestampSeconds: Math.floor(Date.now() / 1000) - 400 }),
        401,
      ],
      [
        'SIGNTEST probe',
        buildNotification(spec(base), keys, { signatureOverride: 'WECHATPAY/SIGNTEST/abcdef' }),
        401,
      ],
      ['wrong amount', buildNotification(spec({ ...base, amount: { ...base.amount, total: 1 } }), keys), 400],
      ['wrong mchid', buildNotification(spec({ ...base, mchid: '1900000000' }), keys), 400],
      ['wrong appid', buildNotification(spec({ ...base, appid: 'wx0000000000000000' }), keys), 400],
    ]
    for (const [name, n, status] of cases) {
      const res = await post(n)
      expect(res.status, name).toBe(status)
      expect(await res.json(), name).toMatchObject({ code: 'FAIL' })
    }
    expect((await orderOf(s.token, o.id)).status).toBe('PENDING')
    expect(await balanceOf(s.token)).toBe(0)
    const genuine = await post(buildNotification(spec(base), keys))
    expect(genuine.status).toBe(204)
    expect(await balanceOf(s.token)).toBe(30)
  })

  it('refuses unsigned callbacks without touching the edge-signature check', async () => {
    const res = await fetch(`${stack.origin.url}/api/payment/callback`, { method: 'POST', body: '{}' })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'FAIL' })
  })
})

describe('refunds', () => {
  async function paidOrder(
    amountFen: number,
    rule = { earnPoints: 1, perFen: 10, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
  ) {
    const m = await activeMerchant(api)
    await api.put('/api/merchant/rule', rule, { token: m.ownerToken })
    const s = await shopper()
    const o = await order(s.token, m.merchantId, amountFen)
    await sandboxPay(o.outTradeNo)
    return { m, s, o }
  }
  const refund = (token: string, orderId: string, amountFen: number, key = idemKey()) =>
    api.post(
      `/api/merchant/orders/${orderId}/refunds`,
      { amountFen, reason: 'customer request' },
      { token, idempotencyKey: key },
    )
  const complete = (outRefundNo: string, status: string, opts: Record<string, unknown> = {}) =>
    control<any>(stack.sandbox, 'POST', `/refunds/${outRefundNo}/complete`, { status, ...opts })

  it('claws back points by the cumulative floor formula over partial then full refunds', async () => {
    const { m, s, o } = await paidOrder(1000)
    expect(await balanceOf(s.token)).toBe(100)
    const r1 = await refund(m.ownerToken, o.id, 333)
    expect(r1.status).toBe(202)
    expect(r1.body).toMatchObject({ status: 'PROCESSING', amountFen: 333, outRefundNo: expect.any(String) })
    await complete(r1.body.outRefundNo, 'SUCCESS', { duplicates: 5 })
    const got1 = await api.get(`/api/merchant/refunds/${r1.body.id}`, { token: m.ownerToken })
    expect(got1.body).toMatchObject({
      status: 'SUCCESS',
      pointsClawedBack: 33,
      amountFen: 333,
      orderId: o.id,
    })
    expect(await orderOf(s.token, o.id)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedFen: 333 })
    expect(await balanceOf(s.token)).toBe(67)

    const r2 = await refund(m.ownerToken, o.id, 667)
    await complete(r2.body.outRefundNo, 'SUCCESS')
    expect(
      (await api.get(`/api/merchant/refunds/${r2.body.id}`, { token: m.ownerToken })).body.pointsClawedBack,
    ).toBe(67)
    expect(await orderOf(s.token, o.id)).toMatchObject({ status: 'REFUNDED', refundedFen: 1000 })
    expect(await balanceOf(s.token)).toBe(0)
    const stats = await api.get('/api/merchant/stats', { token: m.ownerToken })
    expect(stats.body).toEqual({
      orders: 1,
      paidFen: 1000,
      refundedFen: 1000,
      pointsIssued: 100,
      pointsClawedBack: 100,
      pointsRedeemed: 0,
      discountFen: 0,
      customers: 1,
    })
  })

  it('refuses refunds above what is left, of unpaid orders, by staff and by other merchants', async () => {
    const { m, s, o } = await paidOrder(500)
    const r1 = await refund(m.ownerToken, o.id, 400)
    expect(r1.status).toBe(202)
    const tooMuch = await refund(m.ownerToken, o.id, 101)
    expect(tooMuch.status).toBe(422)
    expect(tooMuch.body.error).toMatchObject({ code: 'REFUND_EXCEEDS_PAID', details: { refundableFen: 100 } })
    const other = await activeMerchant(api, 'Other')
    expect((await refund(other.ownerToken, o.id, 1)).status).toBe(404)
    const staff = await api.login(uniqueOpenid('staff'))
    await enlistStaff(api, m.ownerToken, { token: staff.token, id: staff.user.id })
    expect((await refund(staff.token, o.id, 1)).status).toBe(403)
    const unpaid = await order(s.token, m.merchantId, 100)
    const r = await refund(m.ownerToken, unpaid.id, 1)
    expect(r.status).toBe(409)
    expect(r.body.error.code).toBe('INVALID_STATE')
    expect((await api.get(`/api/merchant/refunds/${r1.body.id}`, { token: other.ownerToken })).status).toBe(
      404,
    )
  })

  it('releases the amount of a CLOSED refund and replays an idempotent refund request', async () => {
    const { m, s, o } = await paidOrder(800)
    const key = idemKey()
    const results = await Promise.all(Array.from({ length: 10 }, () => refund(m.ownerToken, o.id, 800, key)))
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(202))
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1)
    await complete(results[0]!.body.outRefundNo, 'CLOSED', { duplicates: 3 })
    expect(
      (await api.get(`/api/merchant/refunds/${results[0]!.body.id}`, { token: m.ownerToken })).body.status,
    ).toBe('FAILED')
    expect(await orderOf(s.token, o.id)).toMatchObject({ status: 'PAID', refundedFen: 0 })
    expect(await balanceOf(s.token)).toBe(80)
    const again = await refund(m.ownerToken, o.id, 800)
    expect(again.status).toBe(202)
  })

  it('lets a claw-back take a balance below zero, which then blocks gifting', async () => {
    const { m, s, o } = await paidOrder(1000)
    await api.post('/api/points/gifts', { points: 100 }, { token: s.token })
    const friend = await shopper()
    const r = await refund(m.ownerToken, o.id, 1000)
    await complete(r.body.outRefundNo, 'SUCCESS')
    expect(await balanceOf(s.token)).toBe(-100)
    const gift = await api.post('/api/points/gifts', { points: 1 }, { token: s.token })
    expect(gift.status).toBe(422)
    expect(gift.body.error.code).toBe('INSUFFICIENT_POINTS')
    expect(await balanceOf(friend.token)).toBe(0)
  })
})

describe('order expiry and QR code', () => {
  it('closes an expired unpaid order', async () => {
    const fast = await startStack({ env: { ORDER_TTL_SECONDS: '1' } })
    try {
      const fastApi = apiClient(fast.origin.url)
      const m = await activeMerchant(fastApi)
      const u = await fastApi.login(uniqueOpenid())
      const o = (
        await fastApi.post('/api/orders', { merchantId: m.merchantId, amountFen: 100 }, { token: u.token })
      ).body
      await fast.db.primary.execute(
        `UPDATE orders SET created_at = created_at - INTERVAL 60 SECOND WHERE id = ${Number(o.id)}`,
      )
      let status = 'PENDING'
      for (let i = 0; i < 50 && status === 'PENDING'; i++) {
        await new Promise((r) => setTimeout(r, 200))
        status = (await fastApi.get(`/api/orders/${o.id}`, { token: u.token })).body.status
      }
      expect(status).toBe('CLOSED')
      const atWechat = (await control<any>(fast.sandbox, 'GET', `/orders/${o.outTradeNo}`)).json
      expect(atWechat.transaction.trade_state).toBe('CLOSED')
      expect((await control(fast.sandbox, 'POST', '/pay', { outTradeNo: o.outTradeNo })).status).toBe(409)
      expect(await checkInvariants(fast)).toEqual(HOLDS)
    } finally {
      await fast.close()
    }
  })

  it('serves the merchant mini-program code as an image, and a clear 502 when WeChat fails', async () => {
    const m = await activeMerchant(api)
    const res = await fetch(`${stack.origin.url}/api/merchant/qrcode`, {
      headers: await signedHeaders('GET', '/api/merchant/qrcode', m.ownerToken),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^image\/(png|jpeg)/)
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect([...bytes.slice(1, 4)]).toEqual([0x50, 0x4e, 0x47])
    const other = await activeMerchant(api, 'Other')
    await control(stack.sandbox, 'POST', '/faults', {
      pathPrefix: '/wxa/getwxacodeunlimit',
      status: 500,
      times: 5,
    })
    const failed = await api.get('/api/merchant/qrcode', { token: other.ownerToken })
    await control(stack.sandbox, 'DELETE', '/faults')
    expect(failed.status).toBe(502)
    expect(failed.body.error.code).toBe('PAYMENT_PROVIDER_ERROR')
  })
})

async function checkInvariants(s: Stack) {
  return invariants(s)
}

async function signedHeaders(method: string, path: string, token: string) {
  const { edgeSignatureHeaders } = await import('../shared/edge-signing.ts')
  const { EDGE_KEY_ID, EDGE_SECRET } = await import('./harness/stack.ts')
  return {
    authorization: `Bearer ${token}`,
    ...(await edgeSignatureHeaders(EDGE_KEY_ID, EDGE_SECRET, {
      method,
      pathWithQuery: path,
      body: '',
      authorization: `Bearer ${token}`,
    })),
  }
}
