/**
 * Suspended means suspended, and merchants cannot mint for themselves (API.md §16). The findings:
 * a suspended merchant's owner kept every write power and its public page stayed cached; an owner
 * could grant itself any number of points and gift them on.
 */
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, adminToken, enlistStaff, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { HOLDS, invariants, REDIS_URL, type Stack, startStack } from '../harness/stack.ts'

const DAILY_MAX = 1_000

let stack: Stack
let api: ReturnType<typeof apiClient>
let admin: string
let redis: Redis

beforeAll(async () => {
  stack = await startStack({ env: { GRANT_DAILY_MAX_POINTS: String(DAILY_MAX) } })
  api = apiClient(stack.origin.url)
  admin = await adminToken(api)
  redis = new Redis(REDIS_URL)
})
afterEach(async () => {
  expect(await invariants(stack)).toEqual(HOLDS)
})
afterAll(async () => {
  expect(stack.origin.output()).not.toContain('unhandled error')
  redis?.disconnect()
  await stack?.close()
})

const RULE = { earnPoints: 1, perFen: 10, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null }
const user = async (prefix = 'u') => {
  const u = await api.login(uniqueOpenid(prefix))
  return { token: u.token, id: u.user.id }
}
const grant = (ownerToken: string, userId: string, points: number) =>
  api.post(
    '/api/merchant/grants',
    { userId, points, reason: 'test' },
    { token: ownerToken, idempotencyKey: idemKey() },
  )
const review = (merchantId: string, action: string) =>
  api.post(`/api/admin/merchants/${merchantId}/${action}`, undefined, { token: admin })
const version = async (merchantId: string) =>
  Number((await redis.get(`edge:merchant-version:${merchantId}`)) ?? 0)

async function paidOrder(merchantId: string, amountFen: number) {
  const payer = await user('payer')
  const o = await api.post(
    '/api/orders',
    { merchantId, amountFen },
    { token: payer.token, idempotencyKey: idemKey() },
  )
  expect(o.status).toBe(201)
  await control(stack.sandbox, 'POST', '/pay', { outTradeNo: o.body.outTradeNo })
  const until = Date.now() + 10_000
  while ((await api.get(`/api/orders/${o.body.id}`, { token: payer.token })).body.status !== 'PAID') {
    if (Date.now() > until) throw new Error('order not paid in time')
    await new Promise((r) => setTimeout(r, 50))
  }
  return o.body as { id: string }
}

describe('a suspended merchant', () => {
  it('can read but not write: profile, rule, staff and grants → 422; refunds of paid orders still work', async () => {
    const m = await activeMerchant(api)
    await api.put('/api/merchant/rule', RULE, { token: m.ownerToken })
    const staff = await user('staff')
    await enlistStaff(api, m.ownerToken, staff)
    const paid = await paidOrder(m.merchantId, 1_000)
    const customer = await user('customer')
    const invitee = await user('invitee')
    expect((await review(m.merchantId, 'suspend')).status).toBe(200)

    const writes: Array<[string, string, unknown]> = [
      ['PATCH', '/api/merchant', { name: 'Still Open' }],
      ['PUT', '/api/merchant/rule', { ...RULE, earnPoints: 100 }],
      ['POST', '/api/merchant/staff', { userId: invitee.id, role: 'merchant_staff' }],
      ['DELETE', `/api/merchant/staff/${staff.id}`, undefined],
      ['POST', '/api/merchant/grants', { userId: customer.id, points: 10, reason: 'still here' }],
    ]
    for (const [method, path, body] of writes) {
      const res = await api.call(method, path, { token: m.ownerToken, body, idempotencyKey: idemKey() })
      expect(res.status, `${method} ${path}`).toBe(422)
      expect(res.body.error.code, `${method} ${path}`).toBe('MERCHANT_NOT_ACTIVE')
    }
    const merchant = await api.get('/api/merchant', { token: m.ownerToken })
    expect(merchant.status).toBe(200)
    expect(merchant.body).toMatchObject({ status: 'SUSPENDED', rule: RULE })
    expect(merchant.body.name).not.toBe('Still Open')
    expect((await api.get('/api/merchant/orders', { token: staff.token })).status).toBe(200)
    expect((await api.get('/api/me/invitations', { token: invitee.token })).body.items).toEqual([])
    expect((await api.get('/api/points/balance', { token: customer.token })).body.balance).toBe(0)

    const refund = await api.post(
      `/api/merchant/orders/${paid.id}/refunds`,
      { amountFen: 100, reason: 'after suspension' },
      { token: m.ownerToken, idempotencyKey: idemKey() },
    )
    expect(refund.status).toBe(202)
    // Staff may still leave a suspended merchant: that is their own choice, not the merchant's write.
    expect((await api.delete(`/api/merchant/staff/${staff.id}`, { token: staff.token })).status).toBe(204)

    expect((await review(m.merchantId, 'approve')).status).toBe(200)
    expect((await api.patch('/api/merchant', { name: 'Open Again' }, { token: m.ownerToken })).status).toBe(
      200,
    )
  })

  it('an invitation sent before the suspension cannot be accepted during it', async () => {
    const m = await activeMerchant(api)
    const u = await user()
    const inv = await api.post(
      '/api/merchant/staff',
      { userId: u.id, role: 'merchant_staff' },
      { token: m.ownerToken },
    )
    await review(m.merchantId, 'suspend')
    const accept = await api.post(`/api/me/invitations/${inv.body.invitationId}/accept`, undefined, {
      token: u.token,
    })
    expect(accept.status).toBe(422)
    expect(accept.body.error.code).toBe('MERCHANT_NOT_ACTIVE')
    expect((await api.get('/api/me', { token: u.token })).body.merchantId).toBeNull()
  })

  it('every status, profile and rule change bumps edge:merchant-version:<id> in Redis', async () => {
    const m = await activeMerchant(api)
    const steps: Array<() => Promise<{ status: number }>> = [
      () => api.patch('/api/merchant', { description: 'changed' }, { token: m.ownerToken }),
      () => api.put('/api/merchant/rule', RULE, { token: m.ownerToken }),
      () => review(m.merchantId, 'suspend'),
      () => review(m.merchantId, 'approve'),
    ]
    for (const step of steps) {
      const before = await version(m.merchantId)
      expect((await step()).status).toBe(200)
      expect(await version(m.merchantId)).toBeGreaterThan(before)
    }
    const applicant = await user('applicant')
    const applied = await api.post(
      '/api/merchants/applications',
      { name: 'Rejected', contactPhone: '13900000004' },
      { token: applicant.token },
    )
    const before = await version(applied.body.merchantId)
    expect((await review(applied.body.merchantId, 'reject')).status).toBe(200)
    expect(await version(applied.body.merchantId)).toBeGreaterThan(before)
  })
})

describe('merchants cannot mint for themselves', () => {
  it('a grant to the owner or any staff of the same merchant is 403 and moves nothing', async () => {
    const m = await activeMerchant(api)
    const staff = await user('staff')
    await enlistStaff(api, m.ownerToken, staff)
    for (const target of [m.ownerId, staff.id]) {
      const res = await grant(m.ownerToken, target, 100)
      expect(res.status).toBe(403)
      expect(res.body.error.code).toBe('FORBIDDEN')
    }
    expect((await api.get('/api/points/balance', { token: staff.token })).body.balance).toBe(0)
    // Another merchant's owner is an ordinary customer here.
    const other = await activeMerchant(api)
    expect((await grant(m.ownerToken, other.ownerId, 10)).status).toBe(201)
    // Once the staff member leaves, they are an ordinary customer too.
    await api.delete(`/api/merchant/staff/${staff.id}`, { token: staff.token })
    expect((await grant(m.ownerToken, staff.id, 10)).status).toBe(201)
  })

  it('GRANT_DAILY_MAX_POINTS holds exactly under 20 concurrent grants that together exceed it', async () => {
    const m = await activeMerchant(api)
    const users = await Promise.all(Array.from({ length: 20 }, () => user('c')))
    const results = await Promise.all(users.map((u) => grant(m.ownerToken, u.id, 70)))
    const ok = results.filter((r) => r.status === 201)
    const refused = results.filter((r) => r.status !== 201)
    expect(ok).toHaveLength(Math.floor(DAILY_MAX / 70))
    for (const r of refused) {
      expect(r.status).toBe(422)
      expect(r.body.error.code).toBe('GRANT_LIMIT_EXCEEDED')
    }
    const [rows] = (await stack.db.primary.execute(
      `SELECT COALESCE(SUM(points), 0) AS granted, COUNT(*) AS n FROM transfers
        WHERE kind = 'MERCHANT_GRANT' AND merchant_id = ${Number(m.merchantId)}`,
    )) as unknown as [Array<{ granted: string; n: number }>]
    expect(Number(rows[0]!.granted)).toBe(ok.length * 70)
    expect(Number(rows[0]!.n)).toBe(ok.length)
    // What is left of the cap can still be granted, exactly, and not a point more.
    const left = DAILY_MAX - ok.length * 70
    const over = await grant(m.ownerToken, users[0]!.id, left + 1)
    expect(over.status).toBe(422)
    expect(over.body.error).toMatchObject({
      code: 'GRANT_LIMIT_EXCEEDED',
      details: { dailyMaxPoints: DAILY_MAX },
    })
    expect((await grant(m.ownerToken, users[0]!.id, left)).status).toBe(201)
    expect((await grant(m.ownerToken, users[0]!.id, 1)).status).toBe(422)
    // The cap is per merchant: another merchant grants freely the same day.
    const other = await activeMerchant(api)
    expect((await grant(other.ownerToken, users[0]!.id, DAILY_MAX)).status).toBe(201)
  })
})
