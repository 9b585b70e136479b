/**
 * Reconciliation against the trade bill (API.md §13) through the admin API, with the sandbox
 * serving the day's bill from its own records (plus injected rows and a broken hash), in both pay
 * modes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { shanghaiDay } from '../origin/services/award-rule.ts'
import { createWechatPayClient } from '../origin/wechat/pay-client.ts'
import { control, payClientConfig } from '../sandbox/testing.ts'
import { type ApiClient, apiClient } from './harness/client.ts'
import { activeMerchant, adminToken, idemKey, uniqueOpenid } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

describe.each(['direct', 'partner'] as const)('trade-bill reconciliation in %s mode', (mode) => {
  let stack: Stack
  let api: ApiClient
  let admin: string
  const today = shanghaiDay(new Date())

  beforeAll(async () => {
    stack = await startStack({ env: { WECHAT_PAY_MODE: mode } })
    api = apiClient(stack.origin.url)
    admin = await adminToken(api)
  })
  afterEach(async () => {
    await control(stack.sandbox, 'DELETE', `/bills/${today}`)
    await control(stack.sandbox, 'DELETE', '/faults')
    expect(await invariants(stack)).toEqual(HOLDS)
  })
  afterAll(async () => {
    expect(stack.origin.output()).not.toContain('unhandled error')
    await stack?.close()
  })

  async function merchant() {
    const m = await activeMerchant(api)
    await api.put(
      '/api/merchant/rule',
      { earnPoints: 1, perFen: 10, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
      { token: m.ownerToken },
    )
    if (mode === 'partner') {
      await api.put(
        `/api/admin/merchants/${m.merchantId}/payment`,
        { subMchid: `18${m.merchantId.padStart(6, '0')}` },
        { token: admin },
      )
    }
    return m
  }

  async function order(m: { merchantId: string }, amountFen: number) {
    const u = await api.login(uniqueOpenid('shopper'))
    const res = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen },
      { token: u.token, idempotencyKey: idemKey() },
    )
    expect(res.status).toBe(201)
    return { token: u.token, id: res.body.id as string, outTradeNo: res.body.outTradeNo as string }
  }

  const pay = (outTradeNo: string, deliver = true) =>
    control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo, deliver })
  const reconcile = (date = today) => api.post('/api/admin/reconciliations', { date }, { token: admin })
  const statusInDb = async (id: string) => {
    const [rows] = (await stack.db.primary.execute(
      `SELECT status FROM orders WHERE id = ${Number(id)}`,
    )) as any
    return rows[0].status as string
  }
  const balanceOf = async (token: string) =>
    (await api.get('/api/points/balance', { token })).body.balance as number
  const mine = (report: any, outTradeNos: string[]) => ({
    fixed: report.fixed.filter((f: any) => outTradeNos.includes(f.outTradeNo)),
    mismatches: report.mismatches.filter((x: any) => outTradeNos.includes(x.outTradeNo)),
  })

  it('agrees with a clean day: payments and a refund matched, totals equal, the report stored', async () => {
    const m = await merchant()
    const a = await order(m, 1234)
    const b = await order(m, 5600)
    await pay(a.outTradeNo)
    await pay(b.outTradeNo)
    const refund = await api.post(
      `/api/merchant/orders/${b.id}/refunds`,
      { amountFen: 600, reason: 'partial' },
      { token: m.ownerToken, idempotencyKey: idemKey() },
    )
    await control(stack.sandbox, 'POST', `/refunds/${refund.body.outRefundNo}/complete`, {
      status: 'SUCCESS',
    })
    const res = await reconcile()
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ date: today, status: 'DONE', fixed: [], mismatches: [] })
    expect(res.body.wechat).toEqual(res.body.local)
    expect(res.body.wechat).toMatchObject({ payments: 2, paidFen: 6834, refunds: 1, refundedFen: 600 })
    expect(res.body.matched).toBe(3)
    const got = await api.get(`/api/admin/reconciliations/${today}`, { token: admin })
    expect(got.status).toBe(200)
    expect(got.body).toEqual(res.body)
  })

  it('applies a payment WeChat has and we hold PENDING once, even when the query fails, rerun or run concurrently', async () => {
    const m = await merchant()
    const o = await order(m, 4200)
    await pay(o.outTradeNo, false)
    // The order query is down: the bill alone is enough.
    for (const pathPrefix of [
      '/v3/pay/transactions/out-trade-no/',
      '/v3/pay/partner/transactions/out-trade-no/',
    ])
      await control(stack.sandbox, 'POST', '/faults', { pathPrefix, status: 500, times: 1000 })
    expect(await statusInDb(o.id)).toBe('PENDING')
    const first = await reconcile()
    expect(first.status).toBe(200)
    expect(mine(first.body, [o.outTradeNo])).toEqual({
      fixed: [{ outTradeNo: o.outTradeNo, action: 'APPLIED_PAYMENT' }],
      mismatches: [],
    })
    expect(await statusInDb(o.id)).toBe('PAID')
    expect(await balanceOf(o.token)).toBe(420)
    const again = await reconcile()
    expect(mine(again.body, [o.outTradeNo]).fixed).toEqual([])
    expect(await balanceOf(o.token)).toBe(420)

    const p = await order(m, 3100)
    await pay(p.outTradeNo, false)
    const runs = await Promise.all(Array.from({ length: 5 }, () => reconcile()))
    expect(runs.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    const fixedIn = runs.map((r) => mine(r.body, [p.outTradeNo]).fixed.length)
    expect(fixedIn.every((n) => n === 0 || n === 1)).toBe(true)
    expect(fixedIn.some((n) => n === 1)).toBe(true)
    expect(await balanceOf(p.token)).toBe(310)
    const records = (await api.get('/api/points/records', { token: p.token })).body.items
    expect(records).toHaveLength(1)
  })

  it('reports MISSING_LOCAL, MISSING_REMOTE, AMOUNT and STATE', async () => {
    const m = await merchant()
    const remoteOnly = `PTEXTRA${Date.now()}`
    const missingRemote = await order(m, 700)
    await pay(missingRemote.outTradeNo)
    const amount = await order(m, 800)
    await pay(amount.outTradeNo)
    const closed = await order(m, 900)
    await pay(closed.outTradeNo, false)
    await stack.db.primary.execute(`UPDATE orders SET status = 'CLOSED' WHERE id = ${Number(closed.id)}`)
    await control(stack.sandbox, 'PUT', `/bills/${today}`, {
      omitOutTradeNos: [missingRemote.outTradeNo, amount.outTradeNo],
      extraRows: [
        { outTradeNo: remoteOnly, amountFen: 1000 },
        { outTradeNo: amount.outTradeNo, amountFen: 801 },
      ],
    })
    const res = await reconcile()
    expect(res.body.status).toBe('DONE')
    const got = mine(res.body, [remoteOnly, missingRemote.outTradeNo, amount.outTradeNo, closed.outTradeNo])
    expect(got.fixed).toEqual([])
    const kinds = Object.fromEntries(got.mismatches.map((x: any) => [x.outTradeNo, x.kind]))
    expect(kinds).toEqual({
      [remoteOnly]: 'MISSING_LOCAL',
      [missingRemote.outTradeNo]: 'MISSING_REMOTE',
      [amount.outTradeNo]: 'AMOUNT',
      [closed.outTradeNo]: 'STATE',
    })
    expect(got.mismatches.every((x: any) => typeof x.detail === 'string' && x.detail.length > 0)).toBe(true)
    expect(await statusInDb(closed.id)).toBe('CLOSED')
    const text = await (await fetch(`${stack.origin.url}/metrics`)).text()
    expect(text).toMatch(/reconciliation_mismatches\{kind="MISSING_LOCAL"\} [1-9]/)
  })

  it('fails on a SHA-1 mismatch and on an unparsable row (with its line), applying nothing', async () => {
    const m = await merchant()
    const o = await order(m, 1500)
    await pay(o.outTradeNo, false)
    await control(stack.sandbox, 'PUT', `/bills/${today}`, { wrongHash: true })
    const bad = await reconcile()
    expect(bad.status).toBe(200)
    expect(bad.body).toMatchObject({ date: today, status: 'FAILED', fixed: [] })
    expect(bad.body.error.message).toMatch(/SHA-1/)
    expect(await statusInDb(o.id)).toBe('PENDING')
    expect((await api.get(`/api/admin/reconciliations/${today}`, { token: admin })).body.status).toBe(
      'FAILED',
    )

    const garbage = '`2026-13-40 99:99:99,`not,`a,`row'
    await control(stack.sandbox, 'PUT', `/bills/${today}`, { rawLines: [garbage] })
    const client = createWechatPayClient(payClientConfig(stack.sandbox))
    const file = (await client.downloadBill((await client.tradeBill(today)).downloadUrl)).toString('utf8')
    const garbageLine = file.split('\r\n').indexOf(garbage) + 1
    expect(garbageLine).toBeGreaterThan(1)
    const unparsable = await reconcile()
    expect(unparsable.body).toMatchObject({ status: 'FAILED', fixed: [], error: { line: garbageLine } })
    expect(unparsable.body.error.message).toContain(`line ${garbageLine}`)
    expect(await statusInDb(o.id)).toBe('PENDING')

    await control(stack.sandbox, 'DELETE', `/bills/${today}`)
    const good = await reconcile()
    expect(mine(good.body, [o.outTradeNo]).fixed).toEqual([
      { outTradeNo: o.outTradeNo, action: 'APPLIED_PAYMENT' },
    ])
  })

  it('runs yesterday by itself after 10:00 Asia/Shanghai', async () => {
    const now = new Date()
    const yesterday = shanghaiDay(new Date(now.getTime() - 24 * 3600_000))
    const afterTen = new Date(now.getTime() + 8 * 3600_000).getUTCHours() >= 10
    let status = 0
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await api.get(`/api/admin/reconciliations/${yesterday}`, { token: admin })).status
      if (status !== 200) await new Promise((r) => setTimeout(r, 100))
    }
    expect(status).toBe(afterTen ? 200 : 404)
  })

  it('validates the day, is admin-only, and 404s a day never run', async () => {
    for (const date of ['2026-13-01', '20261101', '2026-02-30', '', 7]) {
      const res = await api.post('/api/admin/reconciliations', { date }, { token: admin })
      expect(res.status, String(date)).toBe(400)
      expect(res.body.error.details.field).toBe('date')
    }
    expect((await api.get('/api/admin/reconciliations/2020-01-01', { token: admin })).status).toBe(404)
    const user = await api.login(uniqueOpenid())
    expect(
      (await api.post('/api/admin/reconciliations', { date: today }, { token: user.token })).status,
    ).toBe(403)
  })
})
