/**
 * Shipping information (API.md §12) against the sandbox: uploaded once after PAID, retried with
 * backoff when WeChat does not answer, FAILED with the errmsg kept when it refuses, visible on the
 * order views, counted by the metrics the alerts watch. Run in both pay modes.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../sandbox/testing.ts'
import { type ApiClient, apiClient } from './harness/client.ts'
import { activeMerchant, adminToken, idemKey, uniqueOpenid } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

const JOB_INTERVAL_MS = 200
const UPLOAD_PATH = '/wxa/sec/order/upload_shipping_info'
/** Time a loaded 2-core test machine may add to the contract's bounds (HTTP round trips, a busy job run). */
const LOAD_ALLOWANCE_MS = 1000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.each(['direct', 'partner'] as const)('shipping info in %s mode', (mode) => {
  let stack: Stack
  let api: ApiClient

  beforeAll(async () => {
    stack = await startStack({ env: { WECHAT_PAY_MODE: mode, JOB_INTERVAL_MS: String(JOB_INTERVAL_MS) } })
    api = apiClient(stack.origin.url)
  })
  afterEach(async () => {
    await control(stack.sandbox, 'DELETE', '/faults')
    expect(await invariants(stack)).toEqual(HOLDS)
  })
  afterAll(async () => {
    expect(stack.origin.output()).not.toContain('unhandled error')
    await stack?.close()
  })

  async function merchant() {
    const m = await activeMerchant(api, 'Noodle Bar')
    if (mode === 'partner') {
      const put = await api.put(
        `/api/admin/merchants/${m.merchantId}/payment`,
        { subMchid: `17${m.merchantId.padStart(6, '0')}` },
        { token: await adminToken(api) },
      )
      expect(put.status).toBe(200)
    }
    return m
  }

  async function paidOrder(m: { merchantId: string }) {
    const openid = uniqueOpenid('shopper')
    const u = await api.login(openid)
    const created = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen: 880 },
      { token: u.token, idempotencyKey: idemKey() },
    )
    expect(created.status).toBe(201)
    const before = await api.get(`/api/orders/${created.body.id}`, { token: u.token })
    expect(before.body.shippingStatus).toBeNull()
    const paid = await control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo: created.body.outTradeNo })
    const paidAtMs = Date.now()
    return {
      openid,
      token: u.token,
      id: created.body.id as string,
      transactionId: paid.json.transaction.transaction_id as string,
      paidAtMs,
    }
  }

  const uploadsOf = async (transactionId: string) =>
    (
      await control<{ items: Array<{ path: string; body: string; at: string; status?: number }> }>(
        stack.sandbox,
        'GET',
        `/requests?pathPrefix=${encodeURIComponent(UPLOAD_PATH)}`,
      )
    ).json.items.filter((r) => r.body.includes(transactionId))

  async function shippingStatusOf(o: { token: string; id: string }, want: string, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs
    let status: string | null = null
    while (Date.now() < deadline) {
      status = (await api.get(`/api/orders/${o.id}`, { token: o.token })).body.shippingStatus
      if (status === want) return { status, atMs: Date.now() }
      await sleep(25)
    }
    return { status, atMs: Date.now() }
  }

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${stack.origin.url}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith(`${name} `))
    return line ? Number(line.split(' ')[1]) : Number.NaN
  }

  it('uploads once after PAID (用户自提), within 2 job intervals, and shows UPLOADED on both views', async () => {
    const m = await merchant()
    const o = await paidOrder(m)
    const seen = await shippingStatusOf(o, 'UPLOADED')
    expect(seen.status).toBe('UPLOADED')
    expect(seen.atMs - o.paidAtMs).toBeLessThan(2 * JOB_INTERVAL_MS + LOAD_ALLOWANCE_MS)
    await sleep(4 * JOB_INTERVAL_MS)
    const uploads = await uploadsOf(o.transactionId)
    expect(uploads).toHaveLength(1)
    const body = JSON.parse(uploads[0]!.body)
    expect(body).toEqual({
      order_key: { order_number_type: 2, transaction_id: o.transactionId },
      logistics_type: 4,
      delivery_mode: 1,
      shipping_list: [{ item_desc: expect.stringContaining('Noodle Bar') }],
      upload_time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/),
      payer: { openid: o.openid },
    })
    const shipments = (await control<any>(stack.sandbox, 'GET', '/shipments')).json.items
    expect(shipments.filter((s: any) => s.transactionId === o.transactionId)).toHaveLength(1)
    const listed = (await api.get('/api/merchant/orders', { token: m.ownerToken })).body.items
    expect(listed.find((x: any) => x.id === o.id)?.shippingStatus).toBe('UPLOADED')
  })

  it('retries 5xx and errcode -1 with growing gaps, then uploads once', async () => {
    const m = await merchant()
    await control(stack.sandbox, 'POST', '/faults', { pathPrefix: UPLOAD_PATH, status: 503, times: 2 })
    await control(stack.sandbox, 'POST', '/faults', {
      pathPrefix: UPLOAD_PATH,
      status: 200,
      body: { errcode: -1, errmsg: 'system error' },
      times: 2,
    })
    const o = await paidOrder(m)
    const seen = await shippingStatusOf(o, 'UPLOADED', 15_000)
    expect(seen.status).toBe('UPLOADED')
    const attempts = await uploadsOf(o.transactionId)
    expect(attempts.map((a) => a.status)).toEqual([503, 503, 200, 200, 200])
    const at = attempts.map((a) => Date.parse(a.at))
    const gaps = at.slice(1).map((t, i) => t - at[i]!)
    // Retry n waits min(interval × 2^(n-1), 60 intervals) and the job then runs within an interval.
    expect(gaps[0]).toBeLessThan(2 * JOB_INTERVAL_MS + LOAD_ALLOWANCE_MS)
    expect(gaps[3]).toBeGreaterThanOrEqual(8 * JOB_INTERVAL_MS)
    expect(gaps[3]!).toBeGreaterThan(gaps[0]!)
    expect(
      (await control<any>(stack.sandbox, 'GET', '/shipments')).json.items.filter(
        (s: any) => s.transactionId === o.transactionId,
      ),
    ).toHaveLength(1)
  })

  it('marks FAILED with the errmsg kept on any other errcode, and counts it for the alert', async () => {
    const m = await merchant()
    await control(stack.sandbox, 'POST', '/faults', {
      pathPrefix: UPLOAD_PATH,
      status: 200,
      body: { errcode: 10060005, errmsg: 'logistics_type invalid' },
    })
    const o = await paidOrder(m)
    expect((await shippingStatusOf(o, 'FAILED')).status).toBe('FAILED')
    await sleep(4 * JOB_INTERVAL_MS)
    expect(await uploadsOf(o.transactionId)).toHaveLength(1)
    const [[row]] = (await stack.db.primary.execute(
      `SELECT shipping_error AS e FROM orders WHERE id = ${Number(o.id)}`,
    )) as unknown as [[{ e: string }]]
    expect(row.e).toContain('logistics_type invalid')
    expect(await metric('shipping_failed_orders')).toBeGreaterThanOrEqual(1)
    expect((await api.get(`/api/orders/${o.id}`, { token: o.token })).body.status).toBe('PAID')
  })

  it('counts 10060002 (already reported) as UPLOADED', async () => {
    const m = await merchant()
    await control(stack.sandbox, 'POST', '/faults', {
      pathPrefix: UPLOAD_PATH,
      status: 200,
      body: { errcode: 10060002, errmsg: '支付单已完成发货，无法继续发货' },
    })
    const o = await paidOrder(m)
    expect((await shippingStatusOf(o, 'UPLOADED')).status).toBe('UPLOADED')
  })

  it('counts a paid order not uploaded after 10 minutes as overdue', async () => {
    const m = await merchant()
    await control(stack.sandbox, 'POST', '/faults', { pathPrefix: UPLOAD_PATH, status: 502, times: 1000 })
    const o = await paidOrder(m)
    await stack.db.primary.execute(
      `UPDATE orders SET paid_at = paid_at - INTERVAL 11 MINUTE WHERE id = ${Number(o.id)}`,
    )
    let overdue = 0
    for (let i = 0; i < 40 && overdue < 1; i++) {
      await sleep(JOB_INTERVAL_MS)
      overdue = await metric('shipping_overdue_orders')
    }
    expect(overdue).toBeGreaterThanOrEqual(1)
    expect((await api.get(`/api/orders/${o.id}`, { token: o.token })).body.shippingStatus).toBe('PENDING')
    await control(stack.sandbox, 'DELETE', '/faults')
    expect((await shippingStatusOf(o, 'UPLOADED', 60 * JOB_INTERVAL_MS + 2000)).status).toBe('UPLOADED')
    await sleep(2 * JOB_INTERVAL_MS)
    expect(await metric('shipping_overdue_orders')).toBe(0)
  })
})
