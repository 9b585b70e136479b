/** /api/points in process: bad gift input names its field, and a gift settles only once. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { activeMerchant, idemKey, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
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

const gift = (token: string, body: unknown, idempotencyKey?: string) =>
  origin.api.post('/api/points/gifts', body, { token, idempotencyKey })
const balanceOf = async (token: string) =>
  (await origin.api.get('/api/points/balance', { token })).body.balance as number

it.each([
  ['points', { points: 0 }],
  ['points', { points: -5 }],
  ['points', { points: 1.5 }],
  ['points', { points: 1_000_001 }],
  ['points', { points: '10' }],
  ['points', { message: 'no points' }],
  ['message', { points: 1, message: 'm'.repeat(201) }],
])('refuses a gift with 400 naming %s (case %#)', async (field, body) => {
  const { token } = await origin.api.login(uniqueOpenid())
  const res = await gift(token, body)
  expect(res.status).toBe(400)
  expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field } })
})

it.each([
  ['limit=0', 'limit'],
  ['limit=101', 'limit'],
  ['limit=ten', 'limit'],
  ['cursor=0', 'cursor'],
])('refuses GET /api/points/records?%s with 400 naming %s', async (query, field) => {
  const { token } = await origin.api.login(uniqueOpenid())
  const res = await origin.api.get(`/api/points/records?${query}`, { token })
  expect([res.status, res.body.error.code, res.body.error.details.field]).toEqual([
    400,
    'VALIDATION_FAILED',
    field,
  ])
})

it('refuses a gift larger than the balance with 422 INSUFFICIENT_POINTS and holds nothing', async () => {
  const sender = await userWithPoints(origin.api, 40)
  const res = await gift(sender.token, { points: 41 })
  expect([res.status, res.body.error.code]).toEqual([422, 'INSUFFICIENT_POINTS'])
  const b = (await origin.api.get('/api/points/balance', { token: sender.token })).body
  expect(b).toMatchObject({ balance: 40, heldInGifts: 0 })
})

it('refuses any gift while a refund claw-back has left the balance negative', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const payer = await api.login(uniqueOpenid())
  const order = await paidOrder(origin, m.merchantId, payer.token, 1000)
  const friend = await api.login(uniqueOpenid())
  const given = (await gift(payer.token, { points: 10 })).body
  expect(
    (await api.post(`/api/points/gifts/${given.code}/claim`, undefined, { token: friend.token })).status,
  ).toBe(200)
  const refund = await api.post(
    `/api/merchant/orders/${order.id}/refunds`,
    { amountFen: 1000, reason: 'returned' },
    { token: m.ownerToken, idempotencyKey: idemKey() },
  )
  expect(refund.status).toBe(202)
  await settleRefundInSandbox(origin, refund.body.outRefundNo)
  expect(await balanceOf(payer.token)).toBe(-10)
  const res = await gift(payer.token, { points: 1 })
  expect([res.status, res.body.error.code]).toEqual([422, 'INSUFFICIENT_POINTS'])
  expect(await balanceOf(payer.token)).toBe(-10)
})

it('refuses an Idempotency-Key reused with another body, and a malformed key', async () => {
  const sender = await userWithPoints(origin.api, 10)
  const key = idemKey()
  expect((await gift(sender.token, { points: 2 }, key)).status).toBe(201)
  const other = await gift(sender.token, { points: 3 }, key)
  expect([other.status, other.body.error.code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED'])
  const bad = await gift(sender.token, { points: 3 }, 'bad key!')
  expect([bad.status, bad.body.error.details.field]).toEqual([400, 'Idempotency-Key'])
  expect(await balanceOf(sender.token)).toBe(8)
})

it('answers 404 for malformed and unknown gift codes and ids', async () => {
  const { token } = await origin.api.login(uniqueOpenid())
  for (const code of ['short', 'has-dash-in-it', 'ZZZZZZZZZZZZZZZZ', 'x'.repeat(40)]) {
    const view = await origin.api.get(`/api/points/gifts/${code}`, { token })
    expect([code, view.status, view.body.error.code]).toEqual([code, 404, 'NOT_FOUND'])
    const claim = await origin.api.post(`/api/points/gifts/${code}/claim`, undefined, { token })
    expect([code, claim.status, claim.body.error.code]).toEqual([code, 404, 'NOT_FOUND'])
  }
  for (const id of ['0', 'abc', '999999999']) {
    const cancel = await origin.api.post(`/api/points/gifts/${id}/cancel`, undefined, { token })
    expect([id, cancel.status, cancel.body.error.code]).toEqual([id, 404, 'NOT_FOUND'])
  }
})

it('a gift settles once: claiming your own, a claimed or a cancelled gift, and cancelling a settled one are refused', async () => {
  const { api } = origin
  const sender = await userWithPoints(api, 100)
  const claimer = await api.login(uniqueOpenid())
  const late = await api.login(uniqueOpenid())

  const a = (await gift(sender.token, { points: 10 })).body
  const own = await api.post(`/api/points/gifts/${a.code}/claim`, undefined, { token: sender.token })
  expect([own.status, own.body.error.code]).toEqual([422, 'CANNOT_CLAIM_OWN_GIFT'])
  expect(
    (await api.post(`/api/points/gifts/${a.code}/claim`, undefined, { token: claimer.token })).status,
  ).toBe(200)
  const twice = await api.post(`/api/points/gifts/${a.code}/claim`, undefined, { token: late.token })
  expect([twice.status, twice.body.error.code]).toEqual([409, 'GIFT_ALREADY_CLAIMED'])
  const cancelClaimed = await api.post(`/api/points/gifts/${a.id}/cancel`, undefined, { token: sender.token })
  expect([cancelClaimed.status, cancelClaimed.body.error.code]).toEqual([409, 'GIFT_ALREADY_CLAIMED'])

  const b = (await gift(sender.token, { points: 20 })).body
  expect(
    (await api.post(`/api/points/gifts/${b.id}/cancel`, undefined, { token: sender.token })).status,
  ).toBe(200)
  const claimCancelled = await api.post(`/api/points/gifts/${b.code}/claim`, undefined, {
    token: claimer.token,
  })
  expect([claimCancelled.status, claimCancelled.body.error.code]).toEqual([409, 'INVALID_STATE'])
  const cancelAgain = await api.post(`/api/points/gifts/${b.id}/cancel`, undefined, { token: sender.token })
  expect([cancelAgain.status, cancelAgain.body.error.code]).toEqual([409, 'INVALID_STATE'])

  expect(await balanceOf(sender.token)).toBe(90)
  expect(await balanceOf(claimer.token)).toBe(10)
  expect(await balanceOf(late.token)).toBe(0)
})

it('of concurrent claims of one gift exactly one wins; the others get 409 GIFT_ALREADY_CLAIMED', async () => {
  const { api } = origin
  const sender = await userWithPoints(api, 40)
  const created = (await gift(sender.token, { points: 40 })).body
  const claimers = await Promise.all([1, 2, 3, 4].map(() => api.login(uniqueOpenid())))
  const answers = await Promise.all(
    claimers.map((c) => api.post(`/api/points/gifts/${created.code}/claim`, undefined, { token: c.token })),
  )
  expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409])
  for (const r of answers.filter((a) => a.status === 409))
    expect(r.body.error.code).toBe('GIFT_ALREADY_CLAIMED')
  const balances = await Promise.all(claimers.map((c) => balanceOf(c.token)))
  expect(balances.sort((a, b) => a - b)).toEqual([0, 0, 0, 40])
})

it('a gift raced by its claim and its cancellation settles exactly once', async () => {
  const { api } = origin
  const sender = await userWithPoints(api, 15)
  const created = (await gift(sender.token, { points: 15 })).body
  const claimer = await api.login(uniqueOpenid())
  const [claim, cancel] = await Promise.all([
    api.post(`/api/points/gifts/${created.code}/claim`, undefined, { token: claimer.token }),
    api.post(`/api/points/gifts/${created.id}/cancel`, undefined, { token: sender.token }),
  ])
  expect([claim.status, cancel.status].sort()).toEqual([200, 409])
  expect((await balanceOf(sender.token)) + (await balanceOf(claimer.token))).toBe(15)
})
