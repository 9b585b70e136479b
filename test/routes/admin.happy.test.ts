/** /api/admin in process: reviewing merchants, adjusting balances, and what stats and the audit log show. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { activeMerchant, adminToken, idemKey, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'
import { HOLDS } from '../harness/stack.ts'

let origin: InProcessOrigin
let admin: string
beforeAll(async () => {
  origin = await startInProcessOrigin()
  admin = await adminToken(origin.api)
})
afterEach(async () => {
  expect(await origin.invariants()).toEqual(HOLDS)
})
afterAll(async () => {
  await origin?.close()
})

async function application(name: string) {
  const applicant = await origin.api.login(uniqueOpenid())
  const res = await origin.api.post(
    '/api/merchants/applications',
    { name, contactPhone: '13912345678' },
    { token: applicant.token },
  )
  return { id: res.body.merchantId as string, token: applicant.token, userId: applicant.user.id }
}
const review = (id: string, action: string) =>
  origin.api.post(`/api/admin/merchants/${id}/${action}`, undefined, { token: admin })
const ids = (res: { body: { items: { id: string }[] } }) => res.body.items.map((i) => i.id)

it('lists merchants by status, newest first, with the phone masked', async () => {
  const { api } = origin
  const a = await application('Alpha')
  const b = await application('Beta')
  const pending = await api.get('/api/admin/merchants?status=PENDING_REVIEW', { token: admin })
  expect(pending.status).toBe(200)
  expect(ids(pending)).toEqual([b.id, a.id])
  expect(pending.body.items[0]).toMatchObject({
    id: b.id,
    name: 'Beta',
    status: 'PENDING_REVIEW',
    ownerUserId: b.userId,
    contactPhone: '139****5678',
  })
  const page = await api.get('/api/admin/merchants?status=PENDING_REVIEW&limit=1', { token: admin })
  expect(ids(page)).toEqual([b.id])
  const next = await api.get(
    `/api/admin/merchants?status=PENDING_REVIEW&limit=1&cursor=${page.body.nextCursor}`,
    {
      token: admin,
    },
  )
  expect(ids(next)).toEqual([a.id])
  const all = await api.get('/api/admin/merchants', { token: admin })
  expect(ids(all)).toEqual(expect.arrayContaining([a.id, b.id]))
})

it('approves, rejects, suspends and re-activates, and approval makes the applicant an owner', async () => {
  const { api } = origin
  const a = await application('Approved')
  const r = await application('Rejected')
  const approved = await review(a.id, 'approve')
  expect(approved.status).toBe(200)
  expect(approved.body).toMatchObject({ id: a.id, status: 'ACTIVE', contactPhone: '139****5678' })
  const me = await api.get('/api/me', { token: a.token })
  expect(me.body.roles).toContain('merchant_owner')
  expect(me.body.merchantId).toBe(a.id)

  expect((await review(r.id, 'reject')).body).toMatchObject({ id: r.id, status: 'REJECTED' })
  expect((await api.get('/api/me', { token: r.token })).body.roles).toEqual(['user'])

  expect((await review(a.id, 'suspend')).body).toMatchObject({ status: 'SUSPENDED' })
  expect((await api.get(`/api/merchants/${a.id}`)).status).toBe(404)
  expect((await review(a.id, 'approve')).body).toMatchObject({ status: 'ACTIVE' })
  expect((await api.get(`/api/merchants/${a.id}`)).status).toBe(200)

  const suspended = await api.get('/api/admin/merchants?status=REJECTED', { token: admin })
  expect(ids(suspended)).toContain(r.id)
  expect(ids(suspended)).not.toContain(a.id)
})

it('adjusts a balance up and down once per Idempotency-Key', async () => {
  const { api } = origin
  const user = await userWithPoints(api, 100)
  const key = idemKey()
  const body = { userId: user.id, points: 40, reason: 'compensation' }
  const up = await api.post('/api/admin/adjustments', body, { token: admin, idempotencyKey: key })
  expect(up.status).toBe(201)
  expect(up.body).toMatchObject({
    id: expect.any(String),
    transferId: expect.any(String),
    userId: user.id,
    points: 40,
    reason: 'compensation',
    balance: 140,
  })
  const replay = await api.post('/api/admin/adjustments', body, { token: admin, idempotencyKey: key })
  expect([replay.status, replay.body.id, replay.body.balance]).toEqual([201, up.body.id, 140])
  const down = await api.post(
    '/api/admin/adjustments',
    { userId: user.id, points: -140, reason: 'fraud' },
    { token: admin, idempotencyKey: idemKey() },
  )
  expect(down.body).toMatchObject({ points: -140, balance: 0 })
  const records = (await api.get('/api/points/records', { token: user.token })).body.items
  expect(records.map((r: { kind: string; delta: number }) => [r.kind, r.delta])).toEqual([
    ['ADMIN_ADJUST', -140],
    ['ADMIN_ADJUST', 40],
    ['MERCHANT_GRANT', 100],
  ])
})

it('counts users, merchants, points and gifts in the stats', async () => {
  const { api } = origin
  const before = (await api.get('/api/admin/stats', { token: admin })).body
  const sender = await userWithPoints(api, 60)
  await api.post('/api/points/gifts', { points: 25 }, { token: sender.token })
  const stats = await api.get('/api/admin/stats', { token: admin })
  expect(stats.status).toBe(200)
  expect(stats.body).toMatchObject({
    users: before.users + 2,
    merchants: { ...before.merchants, ACTIVE: (before.merchants.ACTIVE ?? 0) + 1 },
    // Points held in a pending gift are counted under pendingGifts, not in users' balances.
    pointsOutstanding: before.pointsOutstanding + 35,
    pendingGifts: { count: before.pendingGifts.count + 1, points: before.pendingGifts.points + 25 },
    paidFen: before.paidFen,
    refundedFen: before.refundedFen,
  })
})

it('records admin and owner writes in the audit log, newest first', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const user = await api.login(uniqueOpenid())
  await api.put(
    '/api/merchant/rule',
    { earnPoints: 3, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
    { token: m.ownerToken },
  )
  await api.post(
    '/api/merchant/grants',
    { userId: user.user.id, points: 8, reason: 'hi' },
    { token: m.ownerToken },
  )
  await api.post(
    '/api/admin/adjustments',
    { userId: user.user.id, points: 2, reason: 'bonus' },
    { token: admin, idempotencyKey: idemKey() },
  )
  const log = await api.get('/api/admin/audit-log?limit=4', { token: admin })
  expect(log.status).toBe(200)
  expect(log.body.items.map((e: { action: string }) => e.action)).toEqual([
    'points.adjust',
    'points.grant',
    'merchant.rule',
    'merchant.approve',
  ])
  expect(log.body.items[0]).toMatchObject({
    actorRole: 'admin',
    targetType: 'user',
    targetId: user.user.id,
    details: { points: 2, reason: 'bonus' },
    createdAt: expect.any(String),
  })
  expect(log.body.items[1]).toMatchObject({ actorUserId: m.ownerId, actorRole: 'merchant_owner' })
  const older = await api.get(`/api/admin/audit-log?limit=100&cursor=${log.body.nextCursor}`, {
    token: admin,
  })
  expect(older.status).toBe(200)
  const seen = new Set(log.body.items.map((e: { id: string }) => e.id))
  expect(older.body.items.some((e: { id: string }) => seen.has(e.id))).toBe(false)
})
