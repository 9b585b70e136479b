/** /api/admin in process: reviews follow the status machine, adjustments name their bad field. */
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

const review = (id: string, action: string) =>
  origin.api.post(`/api/admin/merchants/${id}/${action}`, undefined, { token: admin })
const adjust = (body: unknown, key = idemKey()) =>
  origin.api.post('/api/admin/adjustments', body, { token: admin, idempotencyKey: key })

it('answers 404 for malformed and unknown merchant ids', async () => {
  for (const id of ['abc', '0', '999999999']) {
    for (const action of ['approve', 'reject', 'suspend']) {
      const res = await review(id, action)
      expect([id, action, res.status, res.body.error.code]).toEqual([id, action, 404, 'NOT_FOUND'])
    }
  }
})

it('refuses reviews the status does not allow with 409 INVALID_STATE', async () => {
  const { api } = origin
  const applicant = await api.login(uniqueOpenid())
  const pending = (
    await api.post(
      '/api/merchants/applications',
      { name: 'Pending', contactPhone: '13800138000' },
      { token: applicant.token },
    )
  ).body.merchantId
  const active = (await activeMerchant(api)).merchantId
  const cases: [string, string, string][] = [
    [pending, 'suspend', 'PENDING_REVIEW'],
    [active, 'approve', 'ACTIVE'],
    [active, 'reject', 'ACTIVE'],
  ]
  for (const [id, action, status] of cases) {
    const res = await review(id, action)
    expect([action, res.status, res.body.error.code, res.body.error.details.status]).toEqual([
      action,
      409,
      'INVALID_STATE',
      status,
    ])
  }
  expect((await review(pending, 'reject')).status).toBe(200)
  for (const action of ['approve', 'reject', 'suspend']) {
    const res = await review(pending, action)
    expect([action, res.status, res.body.error.code]).toEqual([action, 409, 'INVALID_STATE'])
  }
})

it.each([
  ['userId', { points: 5, reason: 'r' }],
  ['userId', { userId: '0', points: 5, reason: 'r' }],
  ['points', { userId: '1', points: 0, reason: 'r' }],
  ['points', { userId: '1', points: 100_000_001, reason: 'r' }],
  ['points', { userId: '1', points: 2.5, reason: 'r' }],
  ['reason', { userId: '1', points: 5 }],
  ['reason', { userId: '1', points: 5, reason: 'x'.repeat(201) }],
])('refuses an adjustment with 400 naming %s (case %#)', async (field, body) => {
  const res = await adjust(body)
  expect([res.status, res.body.error.code, res.body.error.details.field]).toEqual([
    400,
    'VALIDATION_FAILED',
    field,
  ])
})

it('refuses an adjustment for an unknown user, or below zero, and a key reused with another body', async () => {
  const unknown = await adjust({ userId: '999999999', points: 5, reason: 'r' })
  expect([unknown.status, unknown.body.error.code, unknown.body.error.details.field]).toEqual([
    404,
    'NOT_FOUND',
    'userId',
  ])
  const user = await userWithPoints(origin.api, 10)
  const below = await adjust({ userId: user.id, points: -11, reason: 'too much' })
  expect([below.status, below.body.error.code]).toEqual([422, 'INSUFFICIENT_POINTS'])
  const key = idemKey()
  expect((await adjust({ userId: user.id, points: 1, reason: 'r' }, key)).status).toBe(201)
  const reused = await adjust({ userId: user.id, points: 2, reason: 'r' }, key)
  expect([reused.status, reused.body.error.code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED'])
  const bad = await adjust({ userId: user.id, points: 2, reason: 'r' }, 'short')
  expect([bad.status, bad.body.error.details.field]).toEqual([400, 'Idempotency-Key'])
  expect((await origin.api.get('/api/points/balance', { token: user.token })).body.balance).toBe(11)
})

it.each([
  ['/api/admin/merchants?status=OPEN', 'status'],
  ['/api/admin/merchants?limit=0', 'limit'],
  ['/api/admin/merchants?cursor=-1', 'cursor'],
  ['/api/admin/audit-log?limit=101', 'limit'],
  ['/api/admin/audit-log?cursor=abc', 'cursor'],
])('refuses GET %s with 400 naming %s', async (path, field) => {
  const res = await origin.api.get(path, { token: admin })
  expect([res.status, res.body.error.code, res.body.error.details.field]).toEqual([
    400,
    'VALIDATION_FAILED',
    field,
  ])
})
