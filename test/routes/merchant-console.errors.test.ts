/** /api/merchant in process: bad input names its field, business rules refuse, a suspended merchant cannot write. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { activeMerchant, adminToken, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'
import { paidOrder, routeNotificationsTo } from '../harness/in-process-payments.ts'
import { HOLDS } from '../harness/stack.ts'

let origin: InProcessOrigin
let m: Awaited<ReturnType<typeof activeMerchant>>
const GRANT_DAILY_MAX_POINTS = 1000
beforeAll(async () => {
  origin = await startInProcessOrigin({ GRANT_DAILY_MAX_POINTS: String(GRANT_DAILY_MAX_POINTS) })
  m = await activeMerchant(origin.api)
})
routeNotificationsTo(() => origin)
afterEach(async () => {
  expect(await origin.invariants()).toEqual(HOLDS)
})
afterAll(async () => {
  await origin?.close()
})

const RULE = { earnPoints: 1, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null }
const fieldOf = (res: { status: number; body: any }) => [
  res.status,
  res.body.error?.code,
  res.body.error?.details?.field,
]

it.each([
  ['earnPoints', { ...RULE, earnPoints: -1 }],
  ['earnPoints', { ...RULE, earnPoints: 1.5 }],
  ['perFen', { ...RULE, perFen: 0 }],
  ['minOrderFen', { ...RULE, minOrderFen: -1 }],
  ['maxPointsPerOrder', { ...RULE, maxPointsPerOrder: undefined }],
  ['dailyCapPerUser', { ...RULE, dailyCapPerUser: 'many' }],
])('refuses PUT /api/merchant/rule with 400 naming %s (case %#)', async (field, body) => {
  const res = await origin.api.put('/api/merchant/rule', body, { token: m.ownerToken })
  expect(fieldOf(res)).toEqual([400, 'VALIDATION_FAILED', field])
})

it.each([
  ['name', { name: '' }],
  ['name', { name: 'n'.repeat(65) }],
  ['description', { description: 'd'.repeat(501) }],
  ['logoUrl', { logoUrl: 'javascript:alert(1)' }],
])('refuses PATCH /api/merchant with 400 naming %s (case %#)', async (field, body) => {
  const res = await origin.api.patch('/api/merchant', body, { token: m.ownerToken })
  expect(fieldOf(res)).toEqual([400, 'VALIDATION_FAILED', field])
})

it('refuses PATCH /api/merchant fields an owner may not set', async () => {
  for (const body of [{ status: 'ACTIVE' }, { ownerUserId: '1' }, { subMchid: '123' }]) {
    const res = await origin.api.patch('/api/merchant', body, { token: m.ownerToken })
    expect([JSON.stringify(body), res.status, res.body.error.code]).toEqual([
      JSON.stringify(body),
      400,
      'VALIDATION_FAILED',
    ])
  }
  expect((await origin.api.get('/api/merchant', { token: m.ownerToken })).body).toMatchObject({
    status: 'ACTIVE',
    ownerUserId: m.ownerId,
    subMchid: null,
  })
})

it.each([
  ['/api/merchant/orders?status=OPEN', 'status'],
  ['/api/merchant/orders?from=yesterday', 'from'],
  ['/api/merchant/orders?to=2026-01-01', 'to'],
  ['/api/merchant/orders?limit=101', 'limit'],
  ['/api/merchant/orders?cursor=x', 'cursor'],
  ['/api/merchant/stats?from=last-week', 'from'],
  ['/api/merchant/stats?to=12', 'to'],
])('refuses GET %s with 400 naming %s', async (path, field) => {
  const res = await origin.api.get(path, { token: m.ownerToken })
  expect(fieldOf(res)).toEqual([400, 'VALIDATION_FAILED', field])
})

it.each([
  ['userId', { points: 5, reason: 'r' }],
  ['userId', { userId: 'abc', points: 5, reason: 'r' }],
  ['points', { userId: '1', points: 0, reason: 'r' }],
  ['points', { userId: '1', points: 1_000_001, reason: 'r' }],
  ['reason', { userId: '1', points: 5 }],
  ['reason', { userId: '1', points: 5, reason: '\u200b' }],
])('refuses POST /api/merchant/grants with 400 naming %s (case %#)', async (field, body) => {
  const res = await origin.api.post('/api/merchant/grants', body, { token: m.ownerToken })
  expect(fieldOf(res)).toEqual([400, 'VALIDATION_FAILED', field])
})

it('refuses a grant to an unknown user with 404, and a reused Idempotency-Key with another body', async () => {
  const unknown = await origin.api.post(
    '/api/merchant/grants',
    { userId: '999999999', points: 5, reason: 'r' },
    { token: m.ownerToken },
  )
  expect(fieldOf(unknown)).toEqual([404, 'NOT_FOUND', 'userId'])
  const user = await origin.api.login(uniqueOpenid())
  const key = idemKey()
  const body = { userId: user.user.id, points: 5, reason: 'r' }
  expect(
    (await origin.api.post('/api/merchant/grants', body, { token: m.ownerToken, idempotencyKey: key }))
      .status,
  ).toBe(201)
  const other = await origin.api.post(
    '/api/merchant/grants',
    { ...body, points: 6 },
    { token: m.ownerToken, idempotencyKey: key },
  )
  expect([other.status, other.body.error.code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED'])
  expect((await origin.api.get('/api/points/balance', { token: user.token })).body.balance).toBe(5)
})

it('refuses grants beyond the daily maximum with 422 GRANT_LIMIT_EXCEEDED', async () => {
  const { api } = origin
  const shop = await activeMerchant(api)
  const user = await api.login(uniqueOpenid())
  const grant = (points: number) =>
    api.post(
      '/api/merchant/grants',
      { userId: user.user.id, points, reason: 'r' },
      { token: shop.ownerToken, idempotencyKey: idemKey() },
    )
  expect((await grant(GRANT_DAILY_MAX_POINTS - 1)).status).toBe(201)
  const over = await grant(2)
  expect([over.status, over.body.error.code]).toEqual([422, 'GRANT_LIMIT_EXCEEDED'])
  expect((await grant(1)).status).toBe(201)
  expect((await grant(1)).status).toBe(422)
  expect((await api.get('/api/points/balance', { token: user.token })).body.balance).toBe(
    GRANT_DAILY_MAX_POINTS,
  )
})

it('refuses refunds that do not fit the order', async () => {
  const { api } = origin
  const payer = await api.login(uniqueOpenid())
  const paid = await paidOrder(origin, m.merchantId, payer.token, 1000)
  const refund = (orderId: string, body: unknown) =>
    api.post(`/api/merchant/orders/${orderId}/refunds`, body, {
      token: m.ownerToken,
      idempotencyKey: idemKey(),
    })

  expect(fieldOf(await refund(paid.id, { amountFen: 0 }))).toEqual([400, 'VALIDATION_FAILED', 'amountFen'])
  expect(fieldOf(await refund(paid.id, { amountFen: 1.5 }))).toEqual([400, 'VALIDATION_FAILED', 'amountFen'])
  expect(fieldOf(await refund(paid.id, { amountFen: 10, reason: 'r'.repeat(81) }))).toEqual([
    400,
    'VALIDATION_FAILED',
    'reason',
  ])
  const tooMuch = await refund(paid.id, { amountFen: 1001 })
  expect([tooMuch.status, tooMuch.body.error.code]).toEqual([422, 'REFUND_EXCEEDS_PAID'])
  expect((await refund(paid.id, { amountFen: 600 })).status).toBe(202)
  // The PROCESSING refund counts against what is left.
  const rest = await refund(paid.id, { amountFen: 401 })
  expect([rest.status, rest.body.error.code]).toEqual([422, 'REFUND_EXCEEDS_PAID'])

  const pending = await api.post(
    '/api/orders',
    { merchantId: m.merchantId, amountFen: 300 },
    { token: payer.token, idempotencyKey: idemKey() },
  )
  const unpaid = await refund(pending.body.id, { amountFen: 100 })
  expect([unpaid.status, unpaid.body.error.code]).toEqual([409, 'INVALID_STATE'])
  for (const id of ['999999999', '0', 'abc']) {
    const res = await refund(id, { amountFen: 1 })
    expect([id, res.status, res.body.error.code]).toEqual([id, 404, 'NOT_FOUND'])
  }
  for (const id of ['999999999', '0', 'abc']) {
    const res = await api.get(`/api/merchant/refunds/${id}`, { token: m.ownerToken })
    expect([id, res.status, res.body.error.code]).toEqual([id, 404, 'NOT_FOUND'])
  }
})

it('refuses staff invitations that cannot be: unknown user, twice, malformed; removal of nobody is 404', async () => {
  const { api } = origin
  expect(
    fieldOf(
      await api.post(
        '/api/merchant/staff',
        { userId: '999999999', role: 'merchant_staff' },
        { token: m.ownerToken },
      ),
    ),
  ).toEqual([404, 'NOT_FOUND', 'userId'])
  expect(
    fieldOf(
      await api.post('/api/merchant/staff', { userId: '1', role: 'merchant_owner' }, { token: m.ownerToken }),
    ),
  ).toEqual([400, 'VALIDATION_FAILED', 'role'])
  expect(
    fieldOf(await api.post('/api/merchant/staff', { role: 'merchant_staff' }, { token: m.ownerToken })),
  ).toEqual([400, 'VALIDATION_FAILED', 'userId'])
  const user = await api.login(uniqueOpenid())
  const invite = () =>
    api.post('/api/merchant/staff', { userId: user.user.id, role: 'merchant_staff' }, { token: m.ownerToken })
  expect((await invite()).status).toBe(201)
  expect(fieldOf(await invite())).toEqual([409, 'INVALID_STATE', 'userId'])
  const nobody = await api.login(uniqueOpenid())
  expect(fieldOf(await api.delete(`/api/merchant/staff/${nobody.user.id}`, { token: m.ownerToken }))).toEqual(
    [404, 'NOT_FOUND', 'userId'],
  )
  expect((await api.delete('/api/merchant/staff/abc', { token: m.ownerToken })).status).toBe(404)
})

it('a SUSPENDED merchant reads but cannot write: 422 MERCHANT_NOT_ACTIVE; refunds of paid orders still work', async () => {
  const { api } = origin
  const shop = await activeMerchant(api)
  const payer = await api.login(uniqueOpenid())
  const paid = await paidOrder(origin, shop.merchantId, payer.token, 500)
  const user = await api.login(uniqueOpenid())
  const suspended = await api.post(`/api/admin/merchants/${shop.merchantId}/suspend`, undefined, {
    token: await adminToken(api),
  })
  expect(suspended.status).toBe(200)
  const token = shop.ownerToken
  const writes = [
    await api.patch('/api/merchant', { name: 'Renamed' }, { token }),
    await api.put('/api/merchant/rule', RULE, { token }),
    await api.post('/api/merchant/grants', { userId: user.user.id, points: 5, reason: 'r' }, { token }),
    await api.post('/api/merchant/staff', { userId: user.user.id, role: 'merchant_staff' }, { token }),
  ]
  for (const res of writes) expect([res.status, res.body.error.code]).toEqual([422, 'MERCHANT_NOT_ACTIVE'])
  expect((await api.get('/api/merchant', { token })).body).toMatchObject({
    status: 'SUSPENDED',
    name: 'Tea House',
  })
  expect((await api.get('/api/merchant/orders', { token })).status).toBe(200)
  expect((await api.get('/api/merchant/stats', { token })).status).toBe(200)
  expect((await api.get('/api/points/balance', { token: user.token })).body.balance).toBe(0)
  const refund = await api.post(
    `/api/merchant/orders/${paid.id}/refunds`,
    { amountFen: 500, reason: 'closing' },
    { token, idempotencyKey: idemKey() },
  )
  expect(refund.status).toBe(202)
})
