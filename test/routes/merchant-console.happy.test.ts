/** /api/merchant in process: an owner runs the shop, from profile and rule to refunds, grants and staff. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { activeMerchant, enlistStaff, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'
import { paidOrder, routeNotificationsTo, settleRefundInSandbox } from '../harness/in-process-payments.ts'
import { HOLDS } from '../harness/stack.ts'

let origin: InProcessOrigin
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
routeNotificationsTo(() => origin)
afterEach(async () => {
  expect(await origin.invariants()).toEqual(HOLDS)
})
afterAll(async () => {
  await origin?.close()
})

const RULE = { earnPoints: 2, perFen: 100, minOrderFen: 500, maxPointsPerOrder: 50, dailyCapPerUser: null }

it('shows the owner the whole merchant and keeps profile and rule edits, also on the public page', async () => {
  const { api } = origin
  const m = await activeMerchant(api, 'Corner Cafe')
  const got = await api.get('/api/merchant', { token: m.ownerToken })
  expect(got.status).toBe(200)
  expect(got.body).toMatchObject({
    id: m.merchantId,
    name: 'Corner Cafe',
    status: 'ACTIVE',
    ownerUserId: m.ownerId,
    contactPhone: '13800138000',
    subMchid: null,
    rule: { earnPoints: 1, perFen: 100 },
  })

  const patched = await api.patch(
    '/api/merchant',
    { name: 'Corner Cafe 2', description: 'Now with cake', logoUrl: 'https://img.example.com/logo.png' },
    { token: m.ownerToken },
  )
  expect(patched.status).toBe(200)
  expect(patched.body).toMatchObject({
    name: 'Corner Cafe 2',
    description: 'Now with cake',
    logoUrl: 'https://img.example.com/logo.png',
  })
  const ruled = await api.put('/api/merchant/rule', RULE, { token: m.ownerToken })
  expect(ruled.status).toBe(200)
  expect(ruled.body.rule).toMatchObject(RULE)

  const page = await api.get(`/api/merchants/${m.merchantId}`)
  expect(page.body).toMatchObject({ name: 'Corner Cafe 2', description: 'Now with cake', rule: RULE })
})

it('lists paid orders with filters, refunds one, and counts it all in the stats', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  await api.put('/api/merchant/rule', RULE, { token: m.ownerToken })
  const payer = await api.login(uniqueOpenid())
  const paid = await paidOrder(origin, m.merchantId, payer.token, 2000)
  const pending = await api.post(
    '/api/orders',
    { merchantId: m.merchantId, amountFen: 700 },
    { token: payer.token, idempotencyKey: idemKey() },
  )

  const all = await api.get('/api/merchant/orders', { token: m.ownerToken })
  expect(all.status).toBe(200)
  expect(all.body.items.map((o: { id: string }) => o.id)).toEqual([pending.body.id, paid.id])
  expect(all.body.items[1]).toMatchObject({
    id: paid.id,
    userId: payer.user.id,
    amountFen: 2000,
    status: 'PAID',
    pointsAwarded: 40,
    pointsClawedBack: 0,
  })
  const onlyPaid = await api.get('/api/merchant/orders?status=PAID', { token: m.ownerToken })
  expect(onlyPaid.body.items.map((o: { id: string }) => o.id)).toEqual([paid.id])
  const future = new Date(Date.now() + 3600_000).toISOString()
  const past = new Date(Date.now() - 3600_000).toISOString()
  expect((await api.get(`/api/merchant/orders?from=${future}`, { token: m.ownerToken })).body.items).toEqual(
    [],
  )
  expect((await api.get(`/api/merchant/orders?to=${past}`, { token: m.ownerToken })).body.items).toEqual([])
  const window = await api.get(`/api/merchant/orders?from=${past}&to=${future}&limit=1`, {
    token: m.ownerToken,
  })
  expect(window.body.items).toHaveLength(1)
  expect(window.body.nextCursor).toEqual(expect.any(String))

  const key = idemKey()
  const refund = await api.post(
    `/api/merchant/orders/${paid.id}/refunds`,
    { amountFen: 500, reason: 'cold coffee' },
    { token: m.ownerToken, idempotencyKey: key },
  )
  expect(refund.status).toBe(202)
  expect(refund.body).toMatchObject({ status: 'PROCESSING', amountFen: 500, outRefundNo: expect.any(String) })
  const replay = await api.post(
    `/api/merchant/orders/${paid.id}/refunds`,
    { amountFen: 500, reason: 'cold coffee' },
    { token: m.ownerToken, idempotencyKey: key },
  )
  expect([replay.status, replay.body.id]).toEqual([202, refund.body.id])
  await settleRefundInSandbox(origin, refund.body.outRefundNo)
  const settled = await api.get(`/api/merchant/refunds/${refund.body.id}`, { token: m.ownerToken })
  expect(settled.status).toBe(200)
  expect(settled.body).toMatchObject({
    id: refund.body.id,
    orderId: paid.id,
    amountFen: 500,
    status: 'SUCCESS',
    reason: 'cold coffee',
    pointsClawedBack: 10,
  })
  const refunded = await api.get('/api/merchant/orders?status=PARTIALLY_REFUNDED', { token: m.ownerToken })
  expect(refunded.body.items[0]).toMatchObject({ id: paid.id, refundedFen: 500, pointsClawedBack: 10 })

  const stats = await api.get('/api/merchant/stats', { token: m.ownerToken })
  expect(stats.status).toBe(200)
  expect(stats.body).toMatchObject({
    orders: 1,
    paidFen: 2000,
    refundedFen: 500,
    pointsIssued: 40,
    pointsClawedBack: 10,
    customers: 1,
  })
  const empty = await api.get(`/api/merchant/stats?from=${future}`, { token: m.ownerToken })
  expect(empty.body).toMatchObject({ orders: 0, paidFen: 0, refundedFen: 0, pointsIssued: 0, customers: 0 })
})

it('grants points once per Idempotency-Key', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const user = await api.login(uniqueOpenid())
  const key = idemKey()
  const body = { userId: user.user.id, points: 75, reason: 'loyal customer' }
  const granted = await api.post('/api/merchant/grants', body, { token: m.ownerToken, idempotencyKey: key })
  expect(granted.status).toBe(201)
  expect(granted.body).toMatchObject({
    id: expect.any(String),
    transferId: expect.any(String),
    merchantId: m.merchantId,
    userId: user.user.id,
    points: 75,
    reason: 'loyal customer',
  })
  const replay = await api.post('/api/merchant/grants', body, { token: m.ownerToken, idempotencyKey: key })
  expect([replay.status, replay.body.id]).toEqual([201, granted.body.id])
  expect((await api.get('/api/points/balance', { token: user.token })).body.balance).toBe(75)
})

it('serves the mini-program code as an image', async () => {
  const m = await activeMerchant(origin.api)
  const res = await origin.api.get('/api/merchant/qrcode', { token: m.ownerToken })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^image\/(png|jpeg)$/)
  expect(res.headers.get('cache-control')).toBe('private, max-age=86400')
  expect(res.text.length).toBeGreaterThan(0)
  const again = await origin.api.get('/api/merchant/qrcode', { token: m.ownerToken })
  expect(again.text).toBe(res.text)
})

it('invites staff, who then read the console, and removes them again', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const user = await api.login(uniqueOpenid())
  const invited = await api.post(
    '/api/merchant/staff',
    { userId: user.user.id, role: 'merchant_staff' },
    { token: m.ownerToken },
  )
  expect(invited.status).toBe(201)
  expect(invited.body).toMatchObject({
    invitationId: expect.any(String),
    status: 'PENDING',
    merchantId: m.merchantId,
    userId: user.user.id,
    role: 'merchant_staff',
  })
  // Pending: not staff yet.
  expect((await api.get('/api/merchant', { token: user.token })).status).toBe(403)
  await api.post(`/api/me/invitations/${invited.body.invitationId}/accept`, undefined, { token: user.token })
  const asStaff = await api.get('/api/merchant', { token: user.token })
  expect(asStaff.status).toBe(200)
  expect(asStaff.body).toMatchObject({ id: m.merchantId, contactPhone: '138****8000' })

  const removed = await api.delete(`/api/merchant/staff/${user.user.id}`, { token: m.ownerToken })
  expect(removed.status).toBe(204)
  expect((await api.get('/api/merchant', { token: user.token })).status).toBe(403)
})

it('lets a staff member leave on their own', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const user = await api.login(uniqueOpenid())
  await enlistStaff(api, m.ownerToken, { token: user.token, id: user.user.id })
  const left = await api.delete(`/api/merchant/staff/${user.user.id}`, { token: user.token })
  expect(left.status).toBe(204)
  expect((await api.get('/api/me', { token: user.token })).body).toMatchObject({
    merchantId: null,
    roles: ['user'],
  })
})
