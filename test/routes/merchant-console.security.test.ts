/** /api/merchant in process: owners write, staff read, everyone else is refused; one merchant never reaches another's. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { activeMerchant, adminToken, enlistStaff, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'
import { paidOrder, routeNotificationsTo } from '../harness/in-process-payments.ts'
import { HOLDS } from '../harness/stack.ts'

let origin: InProcessOrigin
let m: Awaited<ReturnType<typeof activeMerchant>>
let staff: { token: string; id: string }
let paid: { id: string }
let refundId: string
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
routeNotificationsTo(() => origin)
beforeAll(async () => {
  const { api } = origin
  m = await activeMerchant(api)
  const s = await api.login(uniqueOpenid())
  staff = { token: s.token, id: s.user.id }
  await enlistStaff(api, m.ownerToken, staff)
  const payer = await api.login(uniqueOpenid())
  paid = await paidOrder(origin, m.merchantId, payer.token, 1000)
  const refund = await api.post(
    `/api/merchant/orders/${paid.id}/refunds`,
    { amountFen: 100 },
    { token: m.ownerToken, idempotencyKey: idemKey() },
  )
  refundId = refund.body.id
})
afterEach(async () => {
  expect(await origin.invariants()).toEqual(HOLDS)
})
afterAll(async () => {
  await origin?.close()
})

const RULE = { earnPoints: 9, perFen: 1, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null }
const reads = () => [
  ['GET', '/api/merchant'],
  ['GET', '/api/merchant/orders'],
  ['GET', `/api/merchant/refunds/${refundId}`],
  ['GET', '/api/merchant/stats'],
  ['GET', '/api/merchant/qrcode'],
]
const writes = (userId: string) =>
  [
    ['PATCH', '/api/merchant', { name: 'Hijacked' }],
    ['PUT', '/api/merchant/rule', RULE],
    ['POST', `/api/merchant/orders/${paid.id}/refunds`, { amountFen: 1 }],
    ['POST', '/api/merchant/grants', { userId, points: 5, reason: 'r' }],
    ['POST', '/api/merchant/staff', { userId, role: 'merchant_staff' }],
  ] as const

it('needs a valid bearer token', async () => {
  for (const [method, path, body] of [...reads(), ...writes('1')]) {
    const res = await origin.api.call(method as string, path as string, { body })
    expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 401, 'UNAUTHENTICATED'])
  }
})

it('refuses a plain user and an admin without a merchant with 403 on every route', async () => {
  const { api } = origin
  const user = await api.login(uniqueOpenid())
  for (const token of [user.token, await adminToken(api)]) {
    for (const [method, path, body] of [
      ...reads(),
      ...writes(user.user.id),
      ['DELETE', `/api/merchant/staff/${staff.id}`],
    ]) {
      const res = await api.call(method as string, path as string, { token, body })
      expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 403, 'FORBIDDEN'])
    }
  }
})

it('lets staff read, with the phone masked, but refuses every write with 403', async () => {
  const { api } = origin
  for (const [method, path] of reads()) {
    const res = await api.call(method as string, path as string, { token: staff.token })
    expect([method, path, res.status]).toEqual([method, path, 200])
  }
  expect((await api.get('/api/merchant', { token: staff.token })).body.contactPhone).toBe('138****8000')
  const outsider = await api.login(uniqueOpenid())
  for (const [method, path, body] of writes(outsider.user.id)) {
    const res = await api.call(method, path, { token: staff.token, body, idempotencyKey: idemKey() })
    expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 403, 'FORBIDDEN'])
  }
  const merchant = (await api.get('/api/merchant', { token: m.ownerToken })).body
  expect(merchant).toMatchObject({ name: 'Tea House', rule: { earnPoints: 1 } })
  expect((await api.get('/api/points/balance', { token: outsider.token })).body.balance).toBe(0)
})

it('an owner cannot remove themselves as if they were staff', async () => {
  const res = await origin.api.delete(`/api/merchant/staff/${m.ownerId}`, { token: m.ownerToken })
  expect([res.status, res.body.error.code]).toEqual([404, 'NOT_FOUND'])
  expect((await origin.api.get('/api/me', { token: m.ownerToken })).body).toMatchObject({
    merchantId: m.merchantId,
    roles: expect.arrayContaining(['merchant_owner']),
  })
})

it('staff may remove only themselves', async () => {
  const { api } = origin
  const other = await api.login(uniqueOpenid())
  await enlistStaff(api, m.ownerToken, { token: other.token, id: other.user.id })
  for (const target of [other.user.id, m.ownerId]) {
    const res = await api.delete(`/api/merchant/staff/${target}`, { token: staff.token })
    expect([target, res.status, res.body.error.code]).toEqual([target, 403, 'FORBIDDEN'])
  }
  expect((await api.get('/api/merchant', { token: other.token })).status).toBe(200)
})

it("hides another merchant's orders and refunds as 404, and lists only its own", async () => {
  const { api } = origin
  const rival = await activeMerchant(api, 'Rival')
  const refund = await api.post(
    `/api/merchant/orders/${paid.id}/refunds`,
    { amountFen: 100 },
    { token: rival.ownerToken, idempotencyKey: idemKey() },
  )
  expect([refund.status, refund.body.error.code]).toEqual([404, 'NOT_FOUND'])
  const peek = await api.get(`/api/merchant/refunds/${refundId}`, { token: rival.ownerToken })
  expect([peek.status, peek.body.error.code]).toEqual([404, 'NOT_FOUND'])
  expect((await api.get('/api/merchant/orders', { token: rival.ownerToken })).body.items).toEqual([])
  expect((await api.get('/api/merchant/stats', { token: rival.ownerToken })).body).toMatchObject({
    orders: 0,
    paidFen: 0,
  })
  const mine = await api.get('/api/merchant', { token: rival.ownerToken })
  expect(mine.body.id).toBe(rival.merchantId)
})

it('refuses a grant to its own owner or staff with 403 FORBIDDEN', async () => {
  const { api } = origin
  for (const userId of [m.ownerId, staff.id]) {
    const res = await api.post(
      '/api/merchant/grants',
      { userId, points: 100, reason: 'for me' },
      { token: m.ownerToken, idempotencyKey: idemKey() },
    )
    expect([userId, res.status, res.body.error.code]).toEqual([userId, 403, 'FORBIDDEN'])
  }
  expect((await api.get('/api/points/balance', { token: m.ownerToken })).body.balance).toBe(0)
  expect((await api.get('/api/points/balance', { token: staff.token })).body.balance).toBe(0)
})

it("a removed staff member's unexpired token no longer reaches the console (roles are read fresh)", async () => {
  const { api } = origin
  const temp = await api.login(uniqueOpenid())
  await enlistStaff(api, m.ownerToken, { token: temp.token, id: temp.user.id })
  expect((await api.get('/api/merchant', { token: temp.token })).status).toBe(200)
  expect((await api.delete(`/api/merchant/staff/${temp.user.id}`, { token: m.ownerToken })).status).toBe(204)
  const after = await api.get('/api/merchant', { token: temp.token })
  expect([after.status, after.body.error.code]).toEqual([403, 'FORBIDDEN'])
})
