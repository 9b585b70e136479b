/**
 * WeChat Pay callbacks (API.md §5) under hostile input: garbage bodies and headers, near-valid
 * signatures, genuinely signed envelopes around garbage, and authentic ciphertexts around
 * garbage resources. A refusal is 4xx with {"code":"FAIL","message":...}; nothing changes.
 */
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildNotification, signNotification } from '../../sandbox/notifications.ts'
import { control, notificationKeys } from '../../sandbox/testing.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'
import {
  expectCallbackRefused,
  FUZZ_SEED,
  headerValue,
  hostileJsonText,
  hostileString,
  invalidUtf8,
  leakFree,
  runs,
  send,
  snapshot,
} from './support.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>
let order: { id: string; outTradeNo: string }
let shopper: string

const CALLBACKS = ['/api/payment/callback', '/api/refund/callback'] as const

beforeAll(async () => {
  stack = await startStack({ env: { JOB_INTERVAL_MS: '600000' } })
  api = apiClient(stack.origin.url)
  const m = await activeMerchant(api, 'Callback Tea')
  shopper = (await api.login(uniqueOpenid('shopper'))).token
  const created = await api.post(
    '/api/orders',
    { merchantId: m.merchantId, amountFen: 2_000 },
    { token: shopper, idempotencyKey: idemKey() },
  )
  expect(created.status).toBe(201)
  order = created.body
}, 60_000)

afterEach(async () => {
  expect(await invariants(stack)).toEqual(HOLDS)
})

afterAll(async () => {
  await stack?.close()
})

const keys = () => notificationKeys(stack.sandbox)
const nowS = () => Math.floor(Date.now() / 1000)

/** A transaction resource for the fixture order, as WeChat would send it. */
const transaction = () => ({
  appid: stack.env.WECHAT_APPID,
  mchid: stack.env.WECHAT_MCHID,
  out_trade_no: order.outTradeNo,
  transaction_id: '4200000000000000000000000042',
  trade_type: 'JSAPI',
  trade_state: 'SUCCESS',
  success_time: new Date().toISOString(),
  payer: { openid: 'whoever' },
  amount: { total: 2_000, payer_total: 2_000, currency: 'CNY', payer_currency: 'CNY' },
})

async function postCallback(path: string, headers: Record<string, string>, body: string | Uint8Array) {
  const before = await snapshot(stack)
  const res = await send(stack.origin.url, 'POST', path, {
    sign: false,
    body,
    contentType: null,
    headers,
  })
  return { res, changed: JSON.stringify(await snapshot(stack)) !== JSON.stringify(before) }
}

const wechatHeaders = () =>
  fc.record(
    {
      'content-type': fc.constantFrom('application/json', 'text/plain', '', 'application/xml'),
      'wechatpay-serial': fc.oneof(
        fc.constant(stack.env.WECHAT_PAY_PUBLIC_KEY_ID!),
        headerValue.filter(leakFree),
      ),
      'wechatpay-timestamp': fc.oneof(
        fc.integer({ min: -400, max: 400 }).map((d) => String(nowS() + d)),
        fc.constantFrom('', '0', '-1', '1e10', '99999999999999', 'NaN'),
        headerValue.filter(leakFree),
      ),
      'wechatpay-nonce': fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{32}$/), headerValue.filter(leakFree)),
      'wechatpay-signature': fc.oneof(
        fc.uint8Array({ minLength: 256, maxLength: 256 }).map((b) => Buffer.from(b).toString('base64')),
        fc.constantFrom('', '=', 'WECHATPAY/SIGNTEST/abc', 'A'.repeat(344), '***'),
        headerValue.filter(leakFree),
      ),
      'wechatpay-signature-type': fc.constantFrom('WECHATPAY2-SHA256-RSA2048', 'none', ''),
    },
    { requiredKeys: [] },
  )

const garbageBody = fc.oneof(
  hostileJsonText,
  hostileString,
  invalidUtf8,
  fc
    .record({
      id: hostileString,
      event_type: fc.constantFrom('TRANSACTION.SUCCESS', 'REFUND.SUCCESS', 'REFUND.CLOSED', 'X'),
      resource: fc.record({
        algorithm: fc.constantFrom('AEAD_AES_256_GCM', 'none', ''),
        ciphertext: fc.oneof(fc.base64String(), hostileString),
        nonce: fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{12}$/), hostileString),
        associated_data: fc.constantFrom('transaction', 'refund', ''),
      }),
    })
    .map((o) => JSON.stringify(o)),
)

describe('garbage at the WeChat callbacks', () => {
  for (const path of CALLBACKS) {
    it(`${path}: garbage bodies and headers → 4xx {"code":"FAIL"}, nothing changes`, async () => {
      await fc.assert(
        fc.asyncProperty(
          garbageBody,
          wechatHeaders(),
          fc.constantFrom('', '?x=1', '?a=%ZZ&a=2'),
          async (body, headers, query) => {
            const { res, changed } = await postCallback(path + query, headers, body)
            const label = `${path}${query} ${JSON.stringify(headers).slice(0, 200)} body=${String(body).slice(0, 120)}`
            expectCallbackRefused(res, label)
            expect(changed, `${label} changed state`).toBe(false)
          },
        ),
        { seed: FUZZ_SEED, numRuns: runs(60) },
      )
    })

    it(`${path}: bodies signed with WeChat's key but not envelopes → 4xx FAIL`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(hostileJsonText, hostileString), async (body) => {
          const headers = signNotification(body, keys())
          const { res, changed } = await postCallback(path, headers, body)
          expectCallbackRefused(res, `signed garbage ${body.slice(0, 120)}`)
          expect(changed).toBe(false)
        }),
        { seed: FUZZ_SEED, numRuns: runs(25) },
      )
    })

    it(`${path}: envelopes whose ciphertext is not the APIv3 key's → 4xx FAIL`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 0, maxLength: 200 }),
          fc.constantFrom('transaction', 'refund', ''),
          fc.stringMatching(/^[A-Za-z0-9]{12}$/),
          async (ciphertext, associatedData, nonce) => {
            const body = JSON.stringify({
              id: crypto.randomUUID(),
              create_time: new Date().toISOString(),
              resource_type: 'encrypt-resource',
              event_type: path.includes('refund') ? 'REFUND.SUCCESS' : 'TRANSACTION.SUCCESS',
              summary: 'x',
              resource: {
                original_type: associatedData,
                algorithm: 'AEAD_AES_256_GCM',
                ciphertext: Buffer.from(ciphertext).toString('base64'),
                associated_data: associatedData,
                nonce,
              },
            })
            const { res, changed } = await postCallback(path, signNotification(body, keys()), body)
            expectCallbackRefused(res, `bad ciphertext ${body.slice(0, 200)}`)
            expect(changed).toBe(false)
          },
        ),
        { seed: FUZZ_SEED, numRuns: runs(20) },
      )
    })
  }

  it('refuses an oversized callback body with 4xx {"code":"FAIL"} (not the API error format)', async () => {
    for (const path of CALLBACKS) {
      const body = JSON.stringify({ id: 'x', padding: 'x'.repeat(70_000) })
      const { res, changed } = await postCallback(path, signNotification(body, keys()), body)
      expectCallbackRefused(res, `${path} with a 70 KB body`)
      expect(changed).toBe(false)
    }
  })

  it('refuses authentic, decryptable notifications whose resource is garbage with 4xx FAIL (not 5xx)', async () => {
    const resources: Array<Record<string, unknown>> = [
      {},
      { trade_state: 'SUCCESS' },
      { ...transaction(), amount: { total: '2000' } },
      { ...transaction(), amount: { total: -1 } },
      { ...transaction(), amount: { total: Number.POSITIVE_INFINITY } },
      { ...transaction(), trade_state: 'PAID' },
      { ...transaction(), out_trade_no: 42 },
      { refund_id: 1, out_refund_no: null },
    ]
    const failures: string[] = []
    for (const resource of resources) {
      for (const [path, eventType] of [
        ['/api/payment/callback', 'TRANSACTION.SUCCESS'],
        ['/api/refund/callback', 'REFUND.SUCCESS'],
      ] as const) {
        const n = buildNotification({ eventType, resource }, keys())
        const { res, changed } = await postCallback(path, n.headers, n.body)
        expect(changed, `${path} ${JSON.stringify(resource)} changed state`).toBe(false)
        expect(res.json, `${path} ${JSON.stringify(resource)}`).toMatchObject({ code: 'FAIL' })
        if (res.status < 400 || res.status >= 500)
          failures.push(`${eventType} ${JSON.stringify(resource).slice(0, 60)} → ${res.status} ${res.text}`)
      }
    }
    expect(failures).toEqual([])
  })

  it('still accepts the genuine notification after all of that, exactly once', async () => {
    expect((await api.get(`/api/orders/${order.id}`, { token: shopper })).body.status).toBe('PENDING')
    const n = buildNotification({ eventType: 'TRANSACTION.SUCCESS', resource: transaction() }, keys())
    const first = await send(stack.origin.url, 'POST', '/api/payment/callback', {
      sign: false,
      body: n.body,
      contentType: null,
      headers: n.headers,
    })
    expect(first.status).toBe(204)
    expect(first.text).toBe('')
    const again = await send(stack.origin.url, 'POST', '/api/payment/callback', {
      sign: false,
      body: n.body,
      contentType: null,
      headers: n.headers,
    })
    expect(again.status).toBe(204)
    const paid = await api.get(`/api/orders/${order.id}`, { token: shopper })
    expect(paid.body).toMatchObject({ status: 'PAID', pointsAwarded: 20 })
    expect((await api.get('/api/points/balance', { token: shopper })).body.balance).toBe(20)
    // The sandbox never delivered anything for this order: the only payment was ours.
    const sandboxOrder = await control<any>(stack.sandbox, 'GET', `/orders/${order.outTradeNo}`)
    expect(sandboxOrder.json.deliveries).toEqual([])
  })
})
