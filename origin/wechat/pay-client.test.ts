import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildNotification } from '../../sandbox/notifications.ts'
import { type StartedSandbox, startSandbox } from '../../sandbox/server.ts'
import { control, notificationKeys, payClientConfig } from '../../sandbox/testing.ts'
import type { LoggedRequest } from '../../sandbox/traffic.ts'
import { WechatNotificationError, WechatPayError } from './errors.ts'
import { createWechatPayClient, type PrepayInput, type WechatPayClient } from './pay-client.ts'

let sandbox: StartedSandbox
let client: WechatPayClient

const otherKeyPair = () => generateKeyPairSync('rsa', { modulusLength: 2048 })
const newTradeNo = () => `T${randomBytes(8).toString('hex')}`

function prepayInput(outTradeNo: string, amountFen = 1000): PrepayInput {
  return {
    outTradeNo,
    description: '积分商户-测试',
    amountFen,
    payerOpenid: 'o-payer-1',
    notifyUrl: 'http://127.0.0.1:9/api/payment/callback',
    timeExpire: new Date(Date.now() + 15 * 60_000),
  }
}

async function caught(promise: Promise<unknown>): Promise<WechatPayError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof WechatPayError) return err
    throw err
  }
  throw new Error('expected a WechatPayError')
}

async function requestsFor(outTradeNo: string): Promise<LoggedRequest[]> {
  const { json } = await control<{ items: LoggedRequest[] }>(sandbox, 'GET', '/requests?pathPrefix=/v3/')
  return json.items.filter((r) => r.body.includes(outTradeNo) || r.path.includes(outTradeNo))
}

beforeAll(async () => {
  sandbox = await startSandbox({ retryTimeScale: 0.001 })
  client = createWechatPayClient(payClientConfig(sandbox), { timeoutMs: 2_000, retryBackoffMs: 5 })
})

afterAll(() => sandbox.close())

afterEach(() => control(sandbox, 'DELETE', '/faults'))

describe('orders', () => {
  it('prepays, re-issues the same prepay_id for identical parameters, refuses changed ones', async () => {
    const input = prepayInput(newTradeNo())
    const { prepayId } = await client.prepay(input)
    expect(prepayId).toMatch(/^wx/)
    expect((await client.prepay(input)).prepayId).toBe(prepayId)
    const err = await caught(client.prepay({ ...input, amountFen: 999 }))
    expect(err).toMatchObject({ httpStatus: 400, code: 'INVALID_REQUEST', retryable: false })
  })

  it('builds wx.requestPayment params signed over appId, timeStamp, nonceStr and prepay_id=…', () => {
    const params = client.requestPaymentParams('wx123')
    expect(params).toMatchObject({ appId: sandbox.config.appid, package: 'prepay_id=wx123', signType: 'RSA' })
    expect(params.timeStamp).toMatch(/^\d{10}$/)
    const message = `${params.appId}\n${params.timeStamp}\n${params.nonceStr}\n${params.package}\n`
    const merchantPublicKey = createPublicKey(sandbox.config.mchPrivateKeyPem)
    expect(
      verify('sha256', Buffer.from(message), merchantPublicKey, Buffer.from(params.paySign, 'base64')),
    ).toBe(true)
  })

  it('queries NOTPAY, then SUCCESS with the payment fields once paid', async () => {
    const input = prepayInput(newTradeNo(), 2500)
    await client.prepay(input)
    expect(await client.queryByOutTradeNo(input.outTradeNo)).toMatchObject({
      tradeState: 'NOTPAY',
      transactionId: undefined,
      amountTotalFen: 2500,
    })
    await control(sandbox, 'POST', '/pay', { outTradeNo: input.outTradeNo, deliver: false })
    const paid = await client.queryByOutTradeNo(input.outTradeNo)
    expect(paid).toMatchObject({
      tradeState: 'SUCCESS',
      amountTotalFen: 2500,
      payerOpenid: 'o-payer-1',
      appid: sandbox.config.appid,
      mchid: sandbox.config.mchid,
    })
    expect(paid?.transactionId).toMatch(/^4200\d{24}$/)
    expect(paid?.successTime).toMatch(/\+08:00$/)
  })

  it('answers null for an order WeChat does not know', async () => {
    expect(await client.queryByOutTradeNo('UNKNOWN_ORDER_1')).toBeNull()
  })

  it('closes an unpaid order (repeatably) and refuses to close a paid one', async () => {
    const open = prepayInput(newTradeNo())
    await client.prepay(open)
    await client.closeOrder(open.outTradeNo)
    await client.closeOrder(open.outTradeNo)
    expect((await client.queryByOutTradeNo(open.outTradeNo))?.tradeState).toBe('CLOSED')

    const paid = prepayInput(newTradeNo())
    await client.prepay(paid)
    await control(sandbox, 'POST', '/pay', { outTradeNo: paid.outTradeNo, deliver: false })
    expect(await caught(client.closeOrder(paid.outTradeNo))).toMatchObject({
      httpStatus: 400,
      code: 'ORDER_PAID',
    })
  })
})

describe('refunds', () => {
  it('creates idempotently, queries, and refuses more than was paid', async () => {
    const order = prepayInput(newTradeNo(), 1000)
    await client.prepay(order)
    await control(sandbox, 'POST', '/pay', { outTradeNo: order.outTradeNo, deliver: false })
    const input = {
      outTradeNo: order.outTradeNo,
      outRefundNo: `R${randomBytes(6).toString('hex')}`,
      reason: '顾客退货',
      refundFen: 600,
      totalFen: 1000,
      notifyUrl: 'http://127.0.0.1:9/api/refund/callback',
    }
    const created = await client.createRefund(input)
    expect(created).toMatchObject({
      status: 'PROCESSING',
      refundFen: 600,
      totalFen: 1000,
      outRefundNo: input.outRefundNo,
    })
    expect((await client.createRefund(input)).refundId).toBe(created.refundId)
    expect(await client.queryRefund(input.outRefundNo)).toMatchObject({
      refundId: created.refundId,
      status: 'PROCESSING',
    })

    const tooMuch = await caught(
      client.createRefund({ ...input, outRefundNo: `${input.outRefundNo}b`, refundFen: 401 }),
    )
    expect(tooMuch).toMatchObject({ httpStatus: 400, code: 'INVALID_REQUEST', retryable: false })
    const rest = await client.createRefund({ ...input, outRefundNo: `${input.outRefundNo}c`, refundFen: 400 })
    expect(rest.status).toBe('PROCESSING')
  })

  it('answers null for an unknown refund', async () => {
    expect(await client.queryRefund('NO_SUCH_REFUND')).toBeNull()
  })
})

describe('transport: retries, time-outs and response verification', () => {
  it('retries a 5xx with the identical body and succeeds', async () => {
    const input = prepayInput(newTradeNo())
    await control(sandbox, 'POST', '/faults', {
      pathPrefix: '/v3/pay/transactions/jsapi',
      status: 500,
      times: 2,
    })
    const { prepayId } = await client.prepay(input)
    expect(prepayId).toMatch(/^wx/)
    const sent = await requestsFor(input.outTradeNo)
    expect(sent.map((r) => r.status)).toEqual([500, 500, 200])
    expect(new Set(sent.map((r) => r.body)).size).toBe(1)
  })

  it('gives up after maxRetries with a retryable SYSTEM_ERROR', async () => {
    const input = prepayInput(newTradeNo())
    await control(sandbox, 'POST', '/faults', {
      pathPrefix: '/v3/pay/transactions/jsapi',
      status: 503,
      times: 10,
    })
    const err = await caught(client.prepay(input))
    expect(err).toMatchObject({ httpStatus: 503, code: 'SYSTEM_ERROR', retryable: true })
    expect(await requestsFor(input.outTradeNo)).toHaveLength(3)
  })

  it('never retries a 4xx', async () => {
    const input = prepayInput(newTradeNo())
    await control(sandbox, 'POST', '/faults', {
      pathPrefix: '/v3/pay/transactions/jsapi',
      status: 400,
      body: { code: 'PARAM_ERROR', message: 'bad' },
    })
    expect(await caught(client.prepay(input))).toMatchObject({
      httpStatus: 400,
      code: 'PARAM_ERROR',
      retryable: false,
    })
    expect(await requestsFor(input.outTradeNo)).toHaveLength(1)
  })

  it('times out a slow answer and retries it', async () => {
    const input = prepayInput(newTradeNo())
    const fast = createWechatPayClient(payClientConfig(sandbox), {
      timeoutMs: 200,
      maxRetries: 1,
      retryBackoffMs: 5,
    })
    await control(sandbox, 'POST', '/faults', { pathPrefix: '/v3/pay/transactions/jsapi', delayMs: 600 })
    expect((await fast.prepay(input)).prepayId).toMatch(/^wx/)
    expect(await requestsFor(input.outTradeNo)).toHaveLength(2)

    const once = createWechatPayClient(payClientConfig(sandbox), { timeoutMs: 200, maxRetries: 0 })
    await control(sandbox, 'POST', '/faults', {
      pathPrefix: '/v3/pay/transactions/out-trade-no',
      delayMs: 600,
    })
    expect(await caught(once.queryByOutTradeNo(input.outTradeNo))).toMatchObject({
      httpStatus: 0,
      code: 'TIMEOUT',
      retryable: true,
    })
  })

  it('reports a network failure as retryable NETWORK_ERROR', async () => {
    const down = createWechatPayClient(
      { ...payClientConfig(sandbox), baseUrl: 'http://127.0.0.1:9' },
      { maxRetries: 0 },
    )
    expect(await caught(down.queryByOutTradeNo('X123456'))).toMatchObject({
      httpStatus: 0,
      code: 'NETWORK_ERROR',
    })
  })

  it('rejects answers signed with another key, under another serial, or unsigned', async () => {
    const otherKey = otherKeyPair().publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const wrongKey = createWechatPayClient(
      { ...payClientConfig(sandbox), payPublicKeyPem: otherKey },
      { maxRetries: 0 },
    )
    const wrongId = createWechatPayClient(
      { ...payClientConfig(sandbox), payPublicKeyId: 'PUB_KEY_ID_1' },
      { maxRetries: 0 },
    )
    const stripping: typeof fetch = async (url, init) => {
      const res = await fetch(url, init)
      const headers = new Headers(res.headers)
      headers.delete('wechatpay-signature')
      return new Response(await res.text(), { status: res.status, headers })
    }
    const unsigned = createWechatPayClient(payClientConfig(sandbox), { maxRetries: 0, fetch: stripping })
    for (const c of [wrongKey, wrongId, unsigned]) {
      // The 404 must not be believed as "no such order" either.
      expect(await caught(c.queryByOutTradeNo('UNKNOWN_ORDER_2'))).toMatchObject({
        code: 'RESPONSE_SIGNATURE_INVALID',
        retryable: false,
      })
    }
  })

  it('surfaces the sandbox 401 when the merchant key is wrong', async () => {
    const otherPrivate = otherKeyPair().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const badSigner = createWechatPayClient({ ...payClientConfig(sandbox), privateKeyPem: otherPrivate })
    expect(await caught(badSigner.prepay(prepayInput(newTradeNo())))).toMatchObject({
      httpStatus: 401,
      code: 'SIGN_ERROR',
      retryable: false,
    })
  })
})

describe('parseNotification', () => {
  const resource = { out_trade_no: 'T1', trade_state: 'SUCCESS' }
  const spec = { eventType: 'TRANSACTION.SUCCESS', resource }

  function reasonOf(n: { headers: Record<string, string>; body: string }) {
    try {
      client.parseNotification(n.headers, n.body)
      return 'accepted'
    } catch (err) {
      return err instanceof WechatNotificationError ? err.reason : 'other'
    }
  }

  it('verifies and decrypts what the sandbox sends', () => {
    const n = buildNotification(spec, notificationKeys(sandbox))
    expect(client.parseNotification(n.headers, n.body)).toMatchObject({
      eventType: 'TRANSACTION.SUCCESS',
      originalType: 'transaction',
      resource,
    })
  })

  it('rejects forgeries with a reason', () => {
    const keys = notificationKeys(sandbox)
    const otherPrivate = otherKeyPair().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const nowSeconds = Math.floor(Date.now() / 1000)
    expect(reasonOf(buildNotification(spec, keys, { signWith: otherPrivate }))).toBe('BAD_SIGNATURE')
    expect(reasonOf(buildNotification(spec, keys, { serial: 'PUB_KEY_ID_999' }))).toBe('UNKNOWN_SERIAL')
    expect(reasonOf(buildNotification(spec, keys, { timestampSeconds: nowSeconds - 301 }))).toBe(
      'STALE_TIMESTAMP',
    )
    expect(reasonOf(buildNotification(spec, keys, { signatureOverride: 'WECHATPAY/SIGNTEST/abc' }))).toBe(
      'SIGNTEST',
    )
    expect(reasonOf(buildNotification(spec, keys, { signatureOverride: '%%%' }))).toBe('MALFORMED_SIGNATURE')
    expect(reasonOf(buildNotification(spec, keys, { tamperCiphertext: true }))).toBe('DECRYPT_FAILED')
    expect(reasonOf(buildNotification(spec, { ...keys, apiv3Key: 'x'.repeat(32) }))).toBe('DECRYPT_FAILED')
  })
})
