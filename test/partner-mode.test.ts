/**
 * WeChat Pay partner mode (API.md §11) and the key payment scenarios run in both pay modes against
 * the sandbox: the same public API, different WeChat endpoints and fields underneath.
 */
import { createPublicKey, verify } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildNotification } from '../sandbox/notifications.ts'
import { control, notificationKeys } from '../sandbox/testing.ts'
import { type ApiClient, apiClient } from './harness/client.ts'
import { activeMerchant, adminToken, idemKey, uniqueOpenid } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

const MODES = ['direct', 'partner'] as const
type Mode = (typeof MODES)[number]

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.each(MODES)('payments in %s mode', (mode: Mode) => {
  let stack: Stack
  let api: ApiClient
  let subCounter = 0

  beforeAll(async () => {
    stack = await startStack({ env: { WECHAT_PAY_MODE: mode, ORDER_TTL_SECONDS: '60' } })
    api = apiClient(stack.origin.url)
  })
  afterEach(async () => {
    expect(await invariants(stack)).toEqual(HOLDS)
  })
  afterAll(async () => {
    expect(stack.origin.output()).not.toContain('unhandled error')
    await stack?.close()
  })

  /** An active merchant; in partner mode it is given a sub-merchant id by the admin endpoint. */
  async function payableMerchant() {
    const m = await activeMerchant(api)
    await api.put(
      '/api/merchant/rule',
      { earnPoints: 1, perFen: 10, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
      { token: m.ownerToken },
    )
    if (mode === 'direct') return { ...m, subMchid: undefined }
    const subMchid = `16${Date.now() % 1e8}${subCounter++}`
    const put = await api.put(
      `/api/admin/merchants/${m.merchantId}/payment`,
      { subMchid },
      { token: await adminToken(api) },
    )
    expect(put.status).toBe(200)
    return { ...m, subMchid }
  }

  async function shopper() {
    const u = await api.login(uniqueOpenid('shopper'))
    return { token: u.token, id: u.user.id }
  }

  async function order(token: string, merchantId: string, amountFen: number) {
    const res = await api.post('/api/orders', { merchantId, amountFen }, { token, idempotencyKey: idemKey() })
    expect(res.status).toBe(201)
    return res.body as {
      id: string
      outTradeNo: string
      payParams: { appId: string; timeStamp: string; nonceStr: string; package: string; paySign: string }
    }
  }

  const balanceOf = async (token: string) =>
    (await api.get('/api/points/balance', { token })).body.balance as number
  const orderOf = async (token: string, id: string) => (await api.get(`/api/orders/${id}`, { token })).body
  const sandboxPay = (outTradeNo: string, opts: Record<string, unknown> = {}) =>
    control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo, ...opts })
  const wechatRequests = async (prefix: string) =>
    (
      await control<{ items: Array<{ method: string; path: string; body: string }> }>(
        stack.sandbox,
        'GET',
        `/requests?pathPrefix=${encodeURIComponent(prefix)}`,
      )
    ).json.items

  it('prepays on the endpoint of the mode, signs paySign over the (sp_)appid, and awards once under duplicates', async () => {
    const m = await payableMerchant()
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 1230)
    const prepays = (await wechatRequests('/v3/pay/')).filter((r) => r.body.includes(o.outTradeNo))
    expect(prepays).toHaveLength(1)
    const sent = JSON.parse(prepays[0]!.body)
    if (mode === 'partner') {
      expect(prepays[0]!.path).toBe('/v3/pay/partner/transactions/jsapi')
      expect(sent).toMatchObject({
        sp_appid: stack.env.WECHAT_APPID,
        sp_mchid: stack.env.WECHAT_MCHID,
        sub_mchid: m.subMchid,
        out_trade_no: o.outTradeNo,
        amount: { total: 1230, currency: 'CNY' },
        payer: { sp_openid: expect.any(String) },
      })
      expect(sent).not.toHaveProperty('appid')
      expect(sent).not.toHaveProperty('mchid')
    } else {
      expect(prepays[0]!.path).toBe('/v3/pay/transactions/jsapi')
      expect(sent).toMatchObject({ appid: stack.env.WECHAT_APPID, mchid: stack.env.WECHAT_MCHID })
      expect(sent).not.toHaveProperty('sub_mchid')
    }
    const p = o.payParams
    expect(p.appId).toBe(stack.env.WECHAT_APPID)
    const signed = `${p.appId}\n${p.timeStamp}\n${p.nonceStr}\n${p.package}\n`
    const mchPublic = createPublicKey(stack.env.WECHAT_MCH_PRIVATE_KEY!)
    expect(verify('sha256', Buffer.from(signed), mchPublic, Buffer.from(p.paySign, 'base64'))).toBe(true)

    const paid = await sandboxPay(o.outTradeNo, { duplicates: 10 })
    expect(paid.status).toBe(200)
    if (mode === 'partner') expect(paid.json.transaction).toMatchObject({ sub_mchid: m.subMchid })
    expect(await orderOf(s.token, o.id)).toMatchObject({ status: 'PAID', pointsAwarded: 123 })
    expect(await balanceOf(s.token)).toBe(123)
    expect((await api.get('/api/points/records', { token: s.token })).body.items).toHaveLength(1)
  })

  it('marks an order PAID by active query (on the mode’s query endpoint) when the notification is lost', async () => {
    const m = await payableMerchant()
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 500)
    await sandboxPay(o.outTradeNo, { deliver: false })
    expect((await orderOf(s.token, o.id)).status).toBe('PENDING')
    await sleep(5200)
    expect(await orderOf(s.token, o.id)).toMatchObject({ status: 'PAID', pointsAwarded: 50 })
    const queries = await wechatRequests(
      mode === 'partner'
        ? '/v3/pay/partner/transactions/out-trade-no/'
        : '/v3/pay/transactions/out-trade-no/',
    )
    const mine = queries.filter((q) => q.path.includes(o.outTradeNo))
    expect(mine.length).toBeGreaterThan(0)
    if (mode === 'partner') {
      expect(mine[0]!.path).toContain(`sp_mchid=${stack.env.WECHAT_MCHID}&sub_mchid=${m.subMchid}`)
    }
    expect(await balanceOf(s.token)).toBe(50)
  })

  it('closes an expired unpaid order at WeChat through the mode’s close endpoint', async () => {
    const m = await payableMerchant()
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 100)
    await stack.db.primary.execute(
      `UPDATE orders SET created_at = created_at - INTERVAL 120 SECOND,
         expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ${Number(o.id)}`,
    )
    let status = 'PENDING'
    for (let i = 0; i < 50 && status === 'PENDING'; i++) {
      await sleep(200)
      status = (await orderOf(s.token, o.id)).status
    }
    expect(status).toBe('CLOSED')
    const atWechat = (await control<any>(stack.sandbox, 'GET', `/orders/${o.outTradeNo}`)).json
    expect(atWechat.transaction.trade_state).toBe('CLOSED')
    const closes = (await wechatRequests('/v3/pay/')).filter(
      (r) => r.path.endsWith('/close') && r.path.includes(o.outTradeNo),
    )
    expect(closes.length).toBeGreaterThan(0)
    expect(JSON.parse(closes[0]!.body)).toEqual(
      mode === 'partner'
        ? { sp_mchid: stack.env.WECHAT_MCHID, sub_mchid: m.subMchid }
        : { mchid: stack.env.WECHAT_MCHID },
    )
  })

  it('refunds with the sub-merchant named, by notification and by the refund query job', async () => {
    const m = await payableMerchant()
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 1000)
    await sandboxPay(o.outTradeNo)
    expect(await balanceOf(s.token)).toBe(100)
    const refund = (amountFen: number) =>
      api.post(
        `/api/merchant/orders/${o.id}/refunds`,
        { amountFen, reason: 'customer request' },
        { token: m.ownerToken, idempotencyKey: idemKey() },
      )
    const r1 = await refund(400)
    expect(r1.status).toBe(202)
    const sentRefund = (await wechatRequests('/v3/refund/domestic/refunds')).find((r) =>
      r.body.includes(r1.body.outRefundNo),
    )
    expect(JSON.parse(sentRefund!.body).sub_mchid).toBe(m.subMchid)
    await control(stack.sandbox, 'POST', `/refunds/${r1.body.outRefundNo}/complete`, {
      status: 'SUCCESS',
      duplicates: 3,
    })
    expect(await balanceOf(s.token)).toBe(60)

    // A lost refund notification: the job's query (with ?sub_mchid= in partner mode) settles it.
    const r2 = await refund(600)
    await control(stack.sandbox, 'POST', `/refunds/${r2.body.outRefundNo}/complete`, {
      status: 'SUCCESS',
      deliver: false,
    })
    let status = 'PROCESSING'
    for (let i = 0; i < 100 && status === 'PROCESSING'; i++) {
      await sleep(200)
      status = (await api.get(`/api/merchant/refunds/${r2.body.id}`, { token: m.ownerToken })).body.status
    }
    expect(status).toBe('SUCCESS')
    const query = (await wechatRequests(`/v3/refund/domestic/refunds/${r2.body.outRefundNo}`))[0]
    expect(query!.path.includes(`sub_mchid=${m.subMchid}`)).toBe(mode === 'partner')
    expect(await orderOf(s.token, o.id)).toMatchObject({ status: 'REFUNDED', refundedFen: 1000 })
    expect(await balanceOf(s.token)).toBe(0)
  })

  it('believes a payment notification only with the ids of the order’s merchant', async () => {
    const m = await payableMerchant()
    const s = await shopper()
    const o = await order(s.token, m.merchantId, 3000)
    const common = {
      out_trade_no: o.outTradeNo,
      transaction_id: '4200000000000000000000000077',
      trade_type: 'JSAPI',
      trade_state: 'SUCCESS',
      success_time: new Date().toISOString(),
      amount: { total: 3000, payer_total: 3000, currency: 'CNY', payer_currency: 'CNY' },
    }
    const direct = {
      ...common,
      appid: stack.env.WECHAT_APPID,
      mchid: stack.env.WECHAT_MCHID,
      payer: { openid: 'x' },
    }
    const partner = {
      ...common,
      sp_appid: stack.env.WECHAT_APPID,
      sp_mchid: stack.env.WECHAT_MCHID,
      sub_mchid: m.subMchid ?? '1230000109',
      payer: { sp_openid: 'x' },
    }
    const genuine = mode === 'partner' ? partner : direct
    const wrong: Array<[string, Record<string, unknown>]> =
      mode === 'partner'
        ? [
            ['other sub_mchid', { ...partner, sub_mchid: '1999999999' }],
            ['other sp_mchid', { ...partner, sp_mchid: '1900000000' }],
            ['other sp_appid', { ...partner, sp_appid: 'wx0000000000000000' }],
            ['direct shape for a partner order', direct],
            ['wrong amount', { ...partner, amount: { ...partner.amount, total: 1 } }],
          ]
        : [['partner shape for a direct order', partner]]
    const keys = notificationKeys(stack.sandbox)
    const post = (resource: Record<string, unknown>) => {
      const n = buildNotification({ eventType: 'TRANSACTION.SUCCESS', resource }, keys)
      return fetch(`${stack.origin.url}/api/payment/callback`, {
        method: 'POST',
        headers: n.headers,
        body: n.body,
      })
    }
    for (const [name, resource] of wrong) {
      const res = await post(resource)
      expect(res.status, name).toBe(400)
      expect(await res.json(), name).toMatchObject({ code: 'FAIL' })
    }
    expect((await orderOf(s.token, o.id)).status).toBe('PENDING')
    expect(await balanceOf(s.token)).toBe(0)
    expect((await post(genuine)).status).toBe(204)
    expect(await balanceOf(s.token)).toBe(300)
  })

  it(
    mode === 'partner'
      ? 'refuses orders at a merchant without a sub-merchant id (422 MERCHANT_NOT_PAYABLE)'
      : 'takes orders at a merchant without a sub-merchant id',
    async () => {
      const m = await activeMerchant(api)
      const s = await shopper()
      const res = await api.post(
        '/api/orders',
        { merchantId: m.merchantId, amountFen: 100 },
        { token: s.token, idempotencyKey: idemKey() },
      )
      if (mode === 'partner') {
        expect(res.status).toBe(422)
        expect(res.body.error.code).toBe('MERCHANT_NOT_PAYABLE')
        expect((await api.get('/api/orders', { token: s.token })).body.items).toHaveLength(0)
      } else {
        expect(res.status).toBe(201)
      }
    },
  )
})

describe('PUT /api/admin/merchants/:id/payment', () => {
  let stack: Stack
  let api: ApiClient
  beforeAll(async () => {
    stack = await startStack({ env: { WECHAT_PAY_MODE: 'partner' } })
    api = apiClient(stack.origin.url)
  })
  afterAll(async () => {
    await stack?.close()
  })

  it('validates, is admin-only, is audited and shows in the admin and merchant views', async () => {
    const m = await activeMerchant(api)
    const admin = await adminToken(api)
    const path = `/api/admin/merchants/${m.merchantId}/payment`
    for (const body of [
      {},
      { subMchid: '' },
      { subMchid: 'abc' },
      { subMchid: '1'.repeat(33) },
      { subMchid: 12 },
    ]) {
      const res = await api.put(path, body, { token: admin })
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'subMchid' } })
    }
    expect((await api.put(path, { subMchid: '1900000109' }, { token: m.ownerToken })).status).toBe(403)
    expect(
      (await api.put('/api/admin/merchants/99999999/payment', { subMchid: '1' }, { token: admin })).status,
    ).toBe(404)
    const ok = await api.put(path, { subMchid: '1900000109' }, { token: admin })
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ id: m.merchantId, subMchid: '1900000109', status: 'ACTIVE' })
    expect((await api.get('/api/merchant', { token: m.ownerToken })).body.subMchid).toBe('1900000109')
    const listed = (await api.get('/api/admin/merchants?status=ACTIVE&limit=100', { token: admin })).body
      .items
    expect(listed.find((x: { id: string }) => x.id === m.merchantId)?.subMchid).toBe('1900000109')
    const audit = (await api.get('/api/admin/audit-log', { token: admin })).body.items
    expect(audit[0]).toMatchObject({
      action: 'merchant.payment',
      targetType: 'merchant',
      targetId: m.merchantId,
      details: { from: null, to: '1900000109' },
    })
    const s = await api.login(uniqueOpenid())
    const created = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen: 100 },
      { token: s.token, idempotencyKey: idemKey() },
    )
    expect(created.status).toBe(201)
  })
})
