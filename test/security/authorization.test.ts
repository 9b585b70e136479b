/**
 * Object-level and role authorization at the origin. A user reaches only their own orders, records
 * and gifts; staff read but never write; one merchant never reaches another's orders, refunds,
 * stats or staff; only admins reach /api/admin/*. Every refusal is a clean 403/404 that changes
 * nothing, and no answer reveals the other party's data.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { expectWellFormed, secretsOf, send, snapshot } from '../fuzz/support.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, adminToken, enlistStaff, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>
let secrets: string[]

interface MerchantSide {
  merchantId: string
  owner: string
  ownerId: string
  staff: string
  staffId: string
  orderId: string
  outTradeNo: string
  refundId: string
}
let A: MerchantSide
let B: MerchantSide
let alice: { id: string; token: string }
let bob: { id: string; token: string }
let aliceGift: { id: string; code: string }
let applicant: string
let admin: string

async function until(probe: () => Promise<boolean>, ms = 5_000) {
  const end = Date.now() + ms
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function merchantSide(name: string, payer: { token: string }): Promise<MerchantSide> {
  const m = await activeMerchant(api, name)
  const staff = await api.login(uniqueOpenid(`staff-${name}`))
  await enlistStaff(api, m.ownerToken, { token: staff.token, id: staff.user.id })
  const order = await api.post(
    '/api/orders',
    { merchantId: m.merchantId, amountFen: 5_000 },
    { token: payer.token, idempotencyKey: idemKey() },
  )
  expect(order.status).toBe(201)
  await control(stack.sandbox, 'POST', '/pay', { outTradeNo: order.body.outTradeNo })
  await until(
    async () =>
      (await api.get(`/api/orders/${order.body.id}`, { token: payer.token })).body.status === 'PAID',
  )
  const refund = await api.post(
    `/api/merchant/orders/${order.body.id}/refunds`,
    { amountFen: 500, reason: 'partial' },
    { token: m.ownerToken, idempotencyKey: idemKey() },
  )
  expect(refund.status).toBe(202)
  return {
    merchantId: m.merchantId,
    owner: m.ownerToken,
    ownerId: m.ownerId,
    staff: staff.token,
    staffId: staff.user.id,
    orderId: order.body.id,
    outTradeNo: order.body.outTradeNo,
    refundId: refund.body.id,
  }
}

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
  secrets = secretsOf(stack)
  admin = await adminToken(api)
  const a = await api.login(uniqueOpenid('alice'))
  const b = await api.login(uniqueOpenid('bob'))
  alice = { id: a.user.id, token: a.token }
  bob = { id: b.user.id, token: b.token }
  A = await merchantSide('A', alice)
  B = await merchantSide('B', bob)
  const gift = await api.post('/api/points/gifts', { points: 10 }, { token: alice.token })
  expect(gift.status).toBe(201)
  aliceGift = { id: gift.body.id, code: gift.body.code }
  const app = await api.login(uniqueOpenid('applicant'))
  const applied = await api.post(
    '/api/merchants/applications',
    { name: 'Not Yet', contactPhone: '13700000000' },
    { token: app.token },
  )
  expect(applied.status).toBe(201)
  applicant = app.token
}, 60_000)

afterAll(async () => {
  if (stack) {
    expect(await invariants(stack)).toEqual(HOLDS)
    await stack.close()
  }
})

type Call = [method: string, path: string, body?: unknown]

/** Every call is refused with `status` (and `code`), and together they change no row. */
async function expectRefused(token: string | undefined, calls: Call[], status: number, code: string) {
  const before = await snapshot(stack)
  const wrong: string[] = []
  for (const [method, path, body] of calls) {
    const res = await send(stack.origin.url, method, path, {
      token,
      body: body === undefined ? undefined : JSON.stringify(body),
      idempotencyKey: method === 'GET' ? undefined : idemKey(),
    })
    expectWellFormed(res, `${method} ${path}`, secrets)
    if (res.status !== status || res.json?.error?.code !== code)
      wrong.push(`${method} ${path} → ${res.status} ${res.text.slice(0, 160)}`)
  }
  expect(wrong).toEqual([])
  expect(await snapshot(stack)).toEqual(before)
}

const ADMIN_CALLS = (): Call[] => [
  ['GET', '/api/admin/merchants'],
  ['GET', '/api/admin/merchants?status=PENDING_REVIEW'],
  ['POST', `/api/admin/merchants/${B.merchantId}/suspend`],
  ['POST', `/api/admin/merchants/${A.merchantId}/approve`],
  ['POST', `/api/admin/merchants/${A.merchantId}/reject`],
  ['POST', '/api/admin/adjustments', { userId: bob.id, points: 1_000, reason: 'gift to myself' }],
  ['GET', '/api/admin/stats'],
  ['GET', '/api/admin/audit-log'],
  ['POST', `/api/admin/users/${alice.id}/freeze`],
  ['POST', `/api/admin/users/${alice.id}/unfreeze`],
]

describe('users reach only their own orders, records and gifts', () => {
  it("another user's order is 404, and never listed", async () => {
    await expectRefused(bob.token, [['GET', `/api/orders/${A.orderId}`]], 404, 'NOT_FOUND')
    const bobsOrders = await api.get('/api/orders?limit=100', { token: bob.token })
    expect(bobsOrders.status).toBe(200)
    expect(bobsOrders.body.items.map((o: { id: string }) => o.id)).not.toContain(A.orderId)
    expect(bobsOrders.text).not.toContain(A.outTradeNo)
    // The merchant's own owner or staff cannot use the payer's view either.
    await expectRefused(A.owner, [['GET', `/api/orders/${A.orderId}`]], 404, 'NOT_FOUND')
    await expectRefused(A.staff, [['GET', `/api/orders/${A.orderId}`]], 404, 'NOT_FOUND')
  })

  it("another user's points records are never listed, whatever the cursor", async () => {
    const alices = await api.get('/api/points/records?limit=100', { token: alice.token })
    const ids = alices.body.items.map((r: { id: string }) => r.id)
    expect(ids.length).toBeGreaterThan(0)
    for (const cursor of ['', `&cursor=${Number(ids[0]) + 1}`, '&cursor=999999999']) {
      const bobs = await api.get(`/api/points/records?limit=100${cursor}`, { token: bob.token })
      expect(bobs.status).toBe(200)
      for (const r of bobs.body.items) expect(ids).not.toContain(r.id)
      expect(bobs.body.items.every((r: { refId: string | null }) => r.refId !== aliceGift.id)).toBe(true)
    }
  })

  it('another user cannot cancel a gift by id; the gift and both balances stay as they were', async () => {
    const balances = async () => [
      (await api.get('/api/points/balance', { token: alice.token })).body,
      (await api.get('/api/points/balance', { token: bob.token })).body,
    ]
    const before = await balances()
    await expectRefused(bob.token, [['POST', `/api/points/gifts/${aliceGift.id}/cancel`]], 404, 'NOT_FOUND')
    await expectRefused(A.owner, [['POST', `/api/points/gifts/${aliceGift.id}/cancel`]], 404, 'NOT_FOUND')
    await expectRefused(admin, [['POST', `/api/points/gifts/${aliceGift.id}/cancel`]], 404, 'NOT_FOUND')
    expect(await balances()).toEqual(before)
    const view = await api.get(`/api/points/gifts/${aliceGift.code}`, { token: bob.token })
    expect(view.body.status).toBe('PENDING')
    // Viewing by code is the sharing link: it shows the gift and its claims by nickname (API.md
    // §14), never a user id.
    expect(Object.keys(view.body).sort()).toEqual([
      'claimedCount',
      'claims',
      'code',
      'count',
      'expiresAt',
      'message',
      'points',
      'remainingPoints',
      'sender',
      'split',
      'status',
    ])
    expect(Object.keys(view.body.sender)).toEqual(['nickname'])
    await expectRefused(
      alice.token,
      [['POST', `/api/points/gifts/${aliceGift.code}/claim`]],
      422,
      'CANNOT_CLAIM_OWN_GIFT',
    )
  })
})

describe('staff read but never write', () => {
  it('staff are refused every owner-only write with 403', async () => {
    await expectRefused(
      A.staff,
      [
        ['PATCH', '/api/merchant', { name: 'Staff Was Here' }],
        [
          'PUT',
          '/api/merchant/rule',
          { earnPoints: 100, perFen: 1, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
        ],
        ['POST', `/api/merchant/orders/${A.orderId}/refunds`, { amountFen: 1, reason: 'staff' }],
        ['POST', '/api/merchant/grants', { userId: A.staffId, points: 1_000, reason: 'me' }],
        ['POST', '/api/merchant/staff', { userId: bob.id, role: 'merchant_staff' }],
        ['DELETE', `/api/merchant/staff/${A.ownerId}`],
        ['DELETE', `/api/merchant/staff/${B.staffId}`],
      ],
      403,
      'FORBIDDEN',
    )
  })

  it('staff can read their own merchant', async () => {
    for (const path of [
      '/api/merchant',
      '/api/merchant/orders',
      '/api/merchant/stats',
      `/api/merchant/refunds/${A.refundId}`,
      '/api/merchant/qrcode',
    ]) {
      const res = await send(stack.origin.url, 'GET', path, { token: A.staff })
      expect(res.status, `${path} ${res.text.slice(0, 100)}`).toBe(200)
    }
    expect((await api.get('/api/merchant', { token: A.staff })).body.id).toBe(A.merchantId)
  })

  it('plain users and applicants awaiting review have no console at all', async () => {
    const console: Call[] = [
      ['GET', '/api/merchant'],
      ['GET', '/api/merchant/orders'],
      ['GET', '/api/merchant/stats'],
      ['GET', `/api/merchant/refunds/${A.refundId}`],
      ['POST', `/api/merchant/orders/${A.orderId}/refunds`, { amountFen: 1, reason: 'x' }],
      ['POST', '/api/merchant/grants', { userId: bob.id, points: 1, reason: 'x' }],
    ]
    await expectRefused(bob.token, console, 403, 'FORBIDDEN')
    await expectRefused(applicant, console, 403, 'FORBIDDEN')
  })
})

describe('one merchant never reaches another', () => {
  it("B cannot read A's refund or refund A's order (404), with or without an idempotency key", async () => {
    await expectRefused(
      B.owner,
      [
        ['GET', `/api/merchant/refunds/${A.refundId}`],
        ['POST', `/api/merchant/orders/${A.orderId}/refunds`, { amountFen: 1, reason: 'theirs' }],
      ],
      404,
      'NOT_FOUND',
    )
    const noKey = await send(stack.origin.url, 'POST', `/api/merchant/orders/${A.orderId}/refunds`, {
      token: B.owner,
      body: JSON.stringify({ amountFen: 1, reason: 'theirs' }),
    })
    expect(noKey.status).toBe(404)
    await expectRefused(B.staff, [['GET', `/api/merchant/refunds/${A.refundId}`]], 404, 'NOT_FOUND')
    const refund = await api.get(`/api/merchant/refunds/${A.refundId}`, { token: A.owner })
    expect(refund.body).toMatchObject({ id: A.refundId, orderId: A.orderId, amountFen: 500 })
  })

  it("B's order list and stats never include A's orders, whatever the filters", async () => {
    for (const query of [
      '',
      '?status=PAID',
      '?status=PARTIALLY_REFUNDED',
      `?cursor=${Number(A.orderId) + 1}`,
      '?limit=100&from=2000-01-01T00:00:00Z',
    ]) {
      const res = await api.get(`/api/merchant/orders${query}`, { token: B.owner })
      expect(res.status).toBe(200)
      for (const o of res.body.items) expect(o.merchantId ?? B.merchantId).toBe(B.merchantId)
      expect(res.body.items.map((o: { id: string }) => o.id)).not.toContain(A.orderId)
      expect(res.text).not.toContain(A.outTradeNo)
    }
    const statsA = await api.get('/api/merchant/stats', { token: A.owner })
    const statsB = await api.get('/api/merchant/stats', { token: B.owner })
    expect(statsA.body.orders).toBe(1)
    expect(statsB.body.orders).toBe(1)
    expect(statsB.body.paidFen).toBe(5_000)
    expect((await api.get('/api/merchant', { token: B.staff })).body.id).toBe(B.merchantId)
  })

  it("B cannot remove, poach or enlist A's people", async () => {
    await expectRefused(B.owner, [['DELETE', `/api/merchant/staff/${A.staffId}`]], 404, 'NOT_FOUND')
    await expectRefused(
      B.owner,
      [
        ['POST', '/api/merchant/staff', { userId: A.staffId, role: 'merchant_staff' }],
        ['POST', '/api/merchant/staff', { userId: A.ownerId, role: 'merchant_staff' }],
      ],
      409,
      'INVALID_STATE',
    )
    const stillA = await api.get('/api/merchant', { token: A.staff })
    expect(stillA.status).toBe(200)
    expect(stillA.body.id).toBe(A.merchantId)
  })
})

describe('only admins reach /api/admin/*', () => {
  it('users, owners, staff and applicants get 403; nothing changes', async () => {
    for (const token of [bob.token, A.owner, A.staff, B.owner, applicant]) {
      await expectRefused(token, ADMIN_CALLS(), 403, 'FORBIDDEN')
    }
  })

  it('callers without a token get 401 everywhere but the public routes', async () => {
    await expectRefused(
      undefined,
      [
        ...ADMIN_CALLS(),
        ['GET', '/api/me'],
        ['GET', `/api/orders/${A.orderId}`],
        ['GET', '/api/points/balance'],
        ['POST', `/api/points/gifts/${aliceGift.code}/claim`],
        ['POST', `/api/points/gifts/${aliceGift.id}/cancel`],
        ['GET', '/api/merchant'],
        ['GET', `/api/merchant/refunds/${A.refundId}`],
      ],
      401,
      'UNAUTHENTICATED',
    )
  })
})
