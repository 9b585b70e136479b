/**
 * The origin's logs, at LOG_LEVEL=debug, after a scenario that touches every kind of secret: they
 * never contain the JWT secret, edge signing secrets, the APIv3 key, the app secret, the merchant
 * private key, field-encryption keys, the metrics token, any issued bearer token, WeChat access
 * tokens or session keys, or the full phone numbers merchants applied with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildNotification } from '../../sandbox/notifications.ts'
import { control, notificationKeys } from '../../sandbox/testing.ts'
import { secretsOf, send } from '../fuzz/support.ts'
import { apiClient } from '../harness/client.ts'
import { enlistStaff } from '../harness/fixtures.ts'
import { ADMIN_OPENID, type Stack, startStack } from '../harness/stack.ts'

const METRICS_TOKEN = `metrics-${crypto.randomUUID()}`
const PHONES = ['13912345678', '+8613687654321', '15011112222', '18600001111']

let stack: Stack
let api: ReturnType<typeof apiClient>
const issuedTokens: string[] = []
const openids: string[] = []

async function login(openid: string) {
  const res = await api.login(openid)
  issuedTokens.push(res.token)
  openids.push(openid)
  return res
}

async function until(probe: () => Promise<boolean>, ms = 5_000) {
  const end = Date.now() + ms
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Everything a busy day does, successes and failures, with every secret in play. */
async function scenario() {
  const suffix = crypto.randomUUID().slice(0, 8)
  const admin = await login(ADMIN_OPENID)
  const owner = await login(`owner-${suffix}`)
  const other = await login(`other-${suffix}`)
  const rejected = await login(`rejected-${suffix}`)
  const staff = await login(`staff-${suffix}`)
  const shopper = await login(`shopper-${suffix}`)
  const friend = await login(`friend-${suffix}`)

  const apply = (token: string, contactPhone: string, name: string) =>
    api.post(
      '/api/merchants/applications',
      { name, description: `call ${contactPhone}`, contactPhone },
      { token },
    )
  const m = (await apply(owner.token, PHONES[0]!, 'Log Tea')).body.merchantId as string
  const m2 = (await apply(other.token, PHONES[1]!, 'Log Coffee')).body.merchantId as string
  const m3 = (await apply(rejected.token, PHONES[2]!, 'Log Rejected')).body.merchantId as string
  await api.post(
    '/api/merchants/applications',
    { name: 'Bad', contactPhone: `x${PHONES[3]}` },
    { token: staff.token },
  )
  await api.post(`/api/admin/merchants/${m}/approve`, undefined, { token: admin.token })
  await api.post(`/api/admin/merchants/${m2}/approve`, undefined, { token: admin.token })
  await api.post(`/api/admin/merchants/${m3}/reject`, undefined, { token: admin.token })
  await apply(rejected.token, PHONES[3]!, 'Log Rejected Again')
  const ownerToken = (await login(`owner-${suffix}`)).token
  await api.get('/api/admin/merchants', { token: admin.token })
  await api.get('/api/admin/audit-log', { token: admin.token })
  await api.get('/api/admin/stats', { token: admin.token })
  await enlistStaff(api, ownerToken, { token: staff.token, id: staff.user.id })
  await api.get('/api/merchant', { token: ownerToken })
  await api.get('/api/merchant', { token: staff.token })
  await api.patch('/api/merchant', { description: `new ${PHONES[0]}` }, { token: ownerToken })
  await api.put(
    '/api/merchant/rule',
    { earnPoints: 2, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
    { token: ownerToken },
  )
  const qr = await api.get('/api/merchant/qrcode', { token: staff.token })
  expect(qr.status).toBe(200)

  const order = await api.post(
    '/api/orders',
    { merchantId: m, amountFen: 3_000 },
    { token: shopper.token, idempotencyKey: `log-${suffix}-order` },
  )
  expect(order.status).toBe(201)
  await control(stack.sandbox, 'POST', '/pay', { outTradeNo: order.body.outTradeNo })
  await until(
    async () =>
      (await api.get(`/api/orders/${order.body.id}`, { token: shopper.token })).body.status === 'PAID',
  )
  const refund = await api.post(
    `/api/merchant/orders/${order.body.id}/refunds`,
    { amountFen: 1_000, reason: 'log refund' },
    { token: ownerToken, idempotencyKey: `log-${suffix}-refund` },
  )
  await control(stack.sandbox, 'POST', `/refunds/${refund.body.outRefundNo}/complete`, { status: 'SUCCESS' })
  await until(
    async () =>
      (await api.get(`/api/merchant/refunds/${refund.body.id}`, { token: ownerToken })).body.status ===
      'SUCCESS',
  )
  await api.post(
    '/api/merchant/grants',
    { userId: shopper.user.id, points: 5, reason: 'log' },
    { token: ownerToken },
  )
  await api.post(
    '/api/admin/adjustments',
    { userId: shopper.user.id, points: 3, reason: 'log' },
    { token: admin.token, idempotencyKey: `log-${suffix}-adj` },
  )
  const gift = await api.post(
    '/api/points/gifts',
    { points: 4, message: 'for you' },
    { token: shopper.token },
  )
  await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, { token: friend.token })
  await api.get('/api/points/records', { token: friend.token })

  // Failures: every one of them carries a token or a signature somewhere.
  await api.post(
    '/api/points/gifts',
    { points: 4, message: 'other' },
    { token: shopper.token, idempotencyKey: `log-${suffix}-order` },
  )
  await api.post(
    '/api/points/gifts',
    { points: 4, message: 'changed' },
    { token: shopper.token, idempotencyKey: `log-${suffix}-order` },
  )
  await api.get('/api/me', { token: `${shopper.token}x` })
  await api.get('/api/me', { token: shopper.token, sign: false })
  await api.get('/api/admin/stats', { token: shopper.token })
  await api.call('POST', '/api/auth/login', { rawBody: '{"code":' })
  await api.post('/api/auth/login', { code: 'not-a-sandbox-code' })
  await fetch(`${stack.origin.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })
  const metrics = await fetch(`${stack.origin.url}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  })
  expect(metrics.status).toBe(200)
  const forged = buildNotification(
    { eventType: 'TRANSACTION.SUCCESS', resource: { out_trade_no: order.body.outTradeNo } },
    notificationKeys(stack.sandbox),
  )
  await send(stack.origin.url, 'POST', '/api/payment/callback', {
    sign: false,
    body: forged.body,
    contentType: null,
    headers: forged.headers,
  })
  await send(stack.origin.url, 'POST', '/api/refund/callback', {
    sign: false,
    body: '{"garbage":true}',
    headers: {
      'wechatpay-serial': 'x',
      'wechatpay-signature': 'y',
      'wechatpay-timestamp': '1',
      'wechatpay-nonce': 'z',
    },
  })
  // Let the sandbox's retries of the forged-resource answer and the refund job settle.
  await new Promise((r) => setTimeout(r, 500))
}

beforeAll(async () => {
  stack = await startStack({ env: { LOG_LEVEL: 'debug', METRICS_TOKEN } })
  api = apiClient(stack.origin.url)
  await scenario()
}, 60_000)

afterAll(async () => {
  await stack?.close()
})

describe('origin logs at LOG_LEVEL=debug', () => {
  it('are actually written (the scenario was logged)', () => {
    const output = stack.origin.output()
    expect(output).toContain('"msg":"request"')
    expect(output.split('\n').length).toBeGreaterThan(50)
  })

  it('contain no configured secret, key, or PEM body line', () => {
    const output = stack.origin.output()
    const secrets = secretsOf(stack)
    expect(secrets).toContain(stack.env.JWT_SECRET)
    expect(secrets).toContain(stack.env.WECHAT_APIV3_KEY)
    expect(secrets).toContain(stack.env.WECHAT_APP_SECRET)
    expect(secrets).toContain(METRICS_TOKEN)
    const leaked = secrets
      .filter((s) => output.includes(s))
      .map((s) => `${s.slice(0, 6)}… (${s.length} chars)`)
    expect(leaked).toEqual([])
  })

  it('contain no issued bearer token, nor any token signature', () => {
    const output = stack.origin.output()
    expect(issuedTokens.length).toBeGreaterThan(5)
    for (const token of issuedTokens) {
      expect(output.includes(token), 'a whole token').toBe(false)
      expect(output.includes(token.split('.')[2]!), 'a token signature').toBe(false)
    }
  })

  it('contain no WeChat access token or session key', () => {
    const output = stack.origin.output()
    expect(output).not.toMatch(/sbx_[A-Za-z0-9_-]{16,}/)
    expect(output).not.toMatch(/session_key/i)
    for (const openid of openids) {
      expect(output).not.toContain(Buffer.from(`${openid}:sandbox-session`).toString('base64'))
    }
  })

  it('contain no full phone number a merchant applied with', () => {
    const output = stack.origin.output()
    for (const phone of PHONES) {
      const digits = phone.replace(/^\+/, '')
      expect(output.includes(digits), `phone ${phone}`).toBe(false)
      expect(output.includes(digits.slice(-11)), `phone ${phone} without country code`).toBe(false)
    }
  })
})
