import { createPrivateKey, randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createWechatPayClient, type WechatPayClient } from '../origin/wechat/pay-client.ts'
import { toRefund, toTransaction } from '../origin/wechat/pay-resources.ts'
import { type StartedSandbox, sandboxEnv, startSandbox } from './server.ts'
import type { DeliveryRecord } from './store.ts'
import {
  control,
  payClientConfig,
  type ReceivedRequest,
  type Receiver,
  startReceiver,
  waitFor,
} from './testing.ts'

// 0.001 turns WeChat's 15 s / 15 s / 30 s retry delays into 15 ms / 15 ms / 30 ms.
const RETRY_TIME_SCALE = 0.001

let sandbox: StartedSandbox
let client: WechatPayClient
let receiver: Receiver | undefined

async function paidOrder(notifyUrl: string, amountFen = 1000) {
  const outTradeNo = `T${randomBytes(8).toString('hex')}`
  await client.prepay({
    outTradeNo,
    description: '测试',
    amountFen,
    payerOpenid: 'o-buyer',
    notifyUrl,
    timeExpire: new Date(Date.now() + 600_000),
  })
  return outTradeNo
}

function parse(req: ReceivedRequest) {
  return client.parseNotification(req.headers as Record<string, string>, req.body)
}

beforeAll(async () => {
  sandbox = await startSandbox({ retryTimeScale: RETRY_TIME_SCALE })
  client = createWechatPayClient(payClientConfig(sandbox))
})

afterEach(async () => {
  await receiver?.close()
  receiver = undefined
})

afterAll(() => sandbox.close())

describe('payment notification', () => {
  it('delivers TRANSACTION.SUCCESS, signed and encrypted as in WECHAT.md §2.5', async () => {
    receiver = await startReceiver()
    const outTradeNo = await paidOrder(`${receiver.url}/api/payment/callback`, 2300)
    const { status, json } = await control<{ deliveries: DeliveryRecord[] }>(sandbox, 'POST', '/pay', {
      outTradeNo,
    })
    expect(status).toBe(200)
    expect(json.deliveries[0]).toMatchObject({ delivered: true, attempts: [{ status: 204 }] })

    const [req] = receiver.received
    expect(req?.path).toBe('/api/payment/callback')
    expect(req?.headers['wechatpay-signature-type']).toBe('WECHATPAY2-SHA256-RSA2048')
    const envelope = JSON.parse(req!.body)
    expect(envelope).toMatchObject({
      resource_type: 'encrypt-resource',
      event_type: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      resource: {
        original_type: 'transaction',
        algorithm: 'AEAD_AES_256_GCM',
        associated_data: 'transaction',
      },
    })
    expect(envelope.resource.nonce).toHaveLength(12)
    const notification = parse(req!)
    expect(toTransaction(notification.resource)).toMatchObject({
      outTradeNo,
      tradeState: 'SUCCESS',
      amountTotalFen: 2300,
      payerTotalFen: 2300,
      payerOpenid: 'o-buyer',
      appid: sandbox.config.appid,
      mchid: sandbox.config.mchid,
    })
  })

  it('retries on WeChat’s schedule until the origin answers 2xx, same id, freshly signed', async () => {
    receiver = await startReceiver((_req, index) => (index < 3 ? 500 : 204))
    const outTradeNo = await paidOrder(`${receiver.url}/cb`)
    await control(sandbox, 'POST', '/pay', { outTradeNo })
    const r = receiver
    await waitFor(() => r.received.length === 4)
    const ids = r.received.map((req) => parse(req).id)
    expect(new Set(ids).size).toBe(1)
    expect(new Set(r.received.map((req) => req.headers['wechatpay-nonce'])).size).toBe(4)
    // 15 s, 15 s, 30 s scaled: the gaps grow like WeChat's.
    const gaps = r.received.slice(1).map((req, i) => req.receivedAtMs - r.received[i]!.receivedAtMs)
    expect(gaps[2]!).toBeGreaterThanOrEqual(25)
    let deliveries: DeliveryRecord[] = []
    await waitFor(
      () => deliveries[0]?.delivered === true,
      2_000,
      async () => {
        deliveries = (
          await control<{ deliveries: DeliveryRecord[] }>(sandbox, 'GET', `/orders/${outTradeNo}`)
        ).json.deliveries
      },
    )
    expect(deliveries[0]?.attempts.map((a) => a.status)).toEqual([500, 500, 500, 204])
  })

  it('sends N copies of one notification concurrently when asked', async () => {
    receiver = await startReceiver(() => 204, 100)
    const outTradeNo = await paidOrder(`${receiver.url}/cb`)
    await control(sandbox, 'POST', '/pay', { outTradeNo, duplicates: 5 })
    expect(receiver.received).toHaveLength(5)
    expect(receiver.maxConcurrent).toBe(5)
    expect(new Set(receiver.received.map((req) => parse(req).id)).size).toBe(1)
  })

  it('can lose the notification: the order is paid, the origin never hears of it', async () => {
    receiver = await startReceiver()
    const outTradeNo = await paidOrder(`${receiver.url}/cb`)
    const { json } = await control<{ notificationId: string | null }>(sandbox, 'POST', '/pay', {
      outTradeNo,
      deliver: false,
    })
    expect(json.notificationId).toBeNull()
    expect((await client.queryByOutTradeNo(outTradeNo))?.tradeState).toBe('SUCCESS')
    expect(receiver.received).toHaveLength(0)
  })

  it('refuses to pay a closed order', async () => {
    const outTradeNo = await paidOrder('http://127.0.0.1:9/cb')
    await client.closeOrder(outTradeNo)
    expect((await control(sandbox, 'POST', '/pay', { outTradeNo })).status).toBe(409)
  })
})

describe('refund notifications', () => {
  async function refund(notifyUrl: string, refundFen: number) {
    const outTradeNo = await paidOrder('http://127.0.0.1:9/cb', 1000)
    await control(sandbox, 'POST', '/pay', { outTradeNo, deliver: false })
    const outRefundNo = `R${randomBytes(6).toString('hex')}`
    await client.createRefund({
      outTradeNo,
      outRefundNo,
      reason: '退货',
      refundFen,
      totalFen: 1000,
      notifyUrl,
    })
    return { outTradeNo, outRefundNo }
  }

  it('delivers REFUND.SUCCESS with the refund resource of WECHAT.md §2.7', async () => {
    receiver = await startReceiver()
    const { outTradeNo, outRefundNo } = await refund(`${receiver.url}/api/refund/callback`, 300)
    const done = await control(sandbox, 'POST', `/refunds/${outRefundNo}/complete`, { status: 'SUCCESS' })
    expect(done.status).toBe(200)
    const notification = parse(receiver.received[0]!)
    expect(notification).toMatchObject({
      eventType: 'REFUND.SUCCESS',
      originalType: 'refund',
      summary: '退款成功',
    })
    expect(notification.resource).toMatchObject({ mchid: sandbox.config.mchid, refund_status: 'SUCCESS' })
    expect(toRefund(notification.resource)).toMatchObject({
      outTradeNo,
      outRefundNo,
      status: 'SUCCESS',
      refundFen: 300,
    })
    expect((await client.queryRefund(outRefundNo))?.status).toBe('SUCCESS')
    expect(
      (await control(sandbox, 'POST', `/refunds/${outRefundNo}/complete`, { status: 'CLOSED' })).status,
    ).toBe(409)
  })

  it('delivers REFUND.CLOSED and gives the amount back; REFUND.ABNORMAL keeps it', async () => {
    receiver = await startReceiver()
    const closed = await refund(`${receiver.url}/cb`, 1000)
    await control(sandbox, 'POST', `/refunds/${closed.outRefundNo}/complete`, { status: 'CLOSED' })
    expect(parse(receiver.received[0]!).eventType).toBe('REFUND.CLOSED')
    const again = {
      outTradeNo: closed.outTradeNo,
      outRefundNo: `${closed.outRefundNo}x`,
      reason: '重新退款',
      refundFen: 1000,
      totalFen: 1000,
      notifyUrl: `${receiver.url}/cb`,
    }
    expect((await client.createRefund(again)).status).toBe('PROCESSING')
    await control(sandbox, 'POST', `/refunds/${again.outRefundNo}/complete`, { status: 'ABNORMAL' })
    expect(parse(receiver.received[1]!).eventType).toBe('REFUND.ABNORMAL')
    await expect(
      client.createRefund({ ...again, outRefundNo: `${again.outRefundNo}y`, refundFen: 1 }),
    ).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    })
  })

  it('auto-completes refunds when started with refundAutoCompleteMs', async () => {
    const auto = await startSandbox({ refundAutoCompleteMs: 20 })
    try {
      receiver = await startReceiver()
      const autoClient = createWechatPayClient(payClientConfig(auto))
      const outTradeNo = `T${randomBytes(8).toString('hex')}`
      await autoClient.prepay({
        outTradeNo,
        description: 'auto',
        amountFen: 500,
        payerOpenid: 'o-a',
        notifyUrl: `${receiver.url}/cb`,
        timeExpire: new Date(Date.now() + 600_000),
      })
      await control(auto, 'POST', '/pay', { outTradeNo, deliver: false })
      const outRefundNo = `R${randomBytes(6).toString('hex')}`
      const notifyUrl = `${receiver.url}/refund`
      await autoClient.createRefund({
        outTradeNo,
        outRefundNo,
        reason: 'r',
        refundFen: 500,
        totalFen: 500,
        notifyUrl,
      })
      const r = receiver
      await waitFor(() => r.received.length === 1)
      expect(
        autoClient.parseNotification(r.received[0]!.headers as Record<string, string>, r.received[0]!.body),
      ).toMatchObject({
        eventType: 'REFUND.SUCCESS',
      })
    } finally {
      await auto.close()
    }
  })
})

describe('sandboxEnv', () => {
  it('names the origin configuration of API.md §8', () => {
    const env = sandboxEnv(sandbox)
    expect(Object.keys(env).sort()).toEqual(
      [
        'WECHAT_API_BASE_URL',
        'WECHAT_APIV3_KEY',
        'WECHAT_APPID',
        'WECHAT_APP_SECRET',
        'WECHAT_MCHID',
        'WECHAT_MCH_PRIVATE_KEY',
        'WECHAT_MCH_SERIAL_NO',
        'WECHAT_PAY_BASE_URL',
        'WECHAT_PAY_PUBLIC_KEY',
        'WECHAT_PAY_PUBLIC_KEY_ID',
      ].sort(),
    )
    expect(env.WECHAT_APIV3_KEY).toHaveLength(32)
    expect(env.WECHAT_MCH_SERIAL_NO).toMatch(/^[0-9A-F]{40}$/)
    expect(env.WECHAT_PAY_PUBLIC_KEY_ID).toMatch(/^PUB_KEY_ID_\d+$/)
    expect(createPrivateKey(env.WECHAT_MCH_PRIVATE_KEY!).asymmetricKeyType).toBe('rsa')
  })
})
