/** /api/points in process: balance, history, and a gift from creation to claim or cancellation. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { activeMerchant, idemKey, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'
import { HOLDS } from '../harness/stack.ts'

let origin: InProcessOrigin
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
afterEach(async () => {
  expect(await origin.invariants()).toEqual(HOLDS)
})
afterAll(async () => {
  await origin?.close()
})

const balance = async (token: string) => (await origin.api.get('/api/points/balance', { token })).body
const kinds = async (token: string) =>
  (await origin.api.get('/api/points/records', { token })).body.items.map((r: { kind: string }) => r.kind)

it('a new user has nothing; a grant shows in the balance and as a record', async () => {
  const { api } = origin
  const fresh = await api.login(uniqueOpenid())
  const empty = await api.get('/api/points/balance', { token: fresh.token })
  expect(empty.status).toBe(200)
  expect(empty.body).toMatchObject({ balance: 0, heldInGifts: 0, totalEarned: 0 })
  expect((await api.get('/api/points/records', { token: fresh.token })).body).toEqual({
    items: [],
    nextCursor: null,
  })

  const user = await userWithPoints(api, 250)
  expect(await balance(user.token)).toMatchObject({ balance: 250, heldInGifts: 0, totalEarned: 250 })
  const records = await api.get('/api/points/records', { token: user.token })
  expect(records.status).toBe(200)
  expect(records.body.items).toHaveLength(1)
  expect(records.body.items[0]).toMatchObject({
    delta: 250,
    balanceAfter: 250,
    kind: 'MERCHANT_GRANT',
    merchantId: user.merchant.merchantId,
  })
})

it('holds a gift at once, shows it by code, and moves it to the claimer', async () => {
  const { api } = origin
  const sender = await userWithPoints(api, 100)
  await api.patch('/api/me', { nickname: 'Auntie' }, { token: sender.token })
  const key = idemKey()
  const created = await api.post(
    '/api/points/gifts',
    { points: 30, message: 'Happy\u202e birthday' },
    { token: sender.token, idempotencyKey: key },
  )
  expect(created.status).toBe(201)
  expect(created.body).toMatchObject({
    id: expect.any(String),
    code: expect.stringMatching(/^[A-Za-z0-9]{8,32}$/),
    points: 30,
    message: 'Happy birthday',
    status: 'PENDING',
    expiresAt: expect.any(String),
  })
  expect(Date.parse(created.body.expiresAt)).toBeGreaterThan(Date.now())
  const replay = await api.post(
    '/api/points/gifts',
    { points: 30, message: 'Happy\u202e birthday' },
    { token: sender.token, idempotencyKey: key },
  )
  expect([replay.status, replay.body.id]).toEqual([201, created.body.id])
  expect(await balance(sender.token)).toMatchObject({ balance: 70, heldInGifts: 30 })

  const claimer = await api.login(uniqueOpenid())
  const view = await api.get(`/api/points/gifts/${created.body.code}`, { token: claimer.token })
  expect(view.status).toBe(200)
  expect(view.body).toMatchObject({
    code: created.body.code,
    points: 30,
    message: 'Happy birthday',
    status: 'PENDING',
    sender: { nickname: 'Auntie' },
  })

  const claimed = await api.post(`/api/points/gifts/${created.body.code}/claim`, undefined, {
    token: claimer.token,
  })
  expect(claimed.status).toBe(200)
  expect(claimed.body).toMatchObject({
    gift: { id: created.body.id, status: 'CLAIMED', points: 30 },
    balance: 30,
  })
  expect(await balance(claimer.token)).toMatchObject({ balance: 30, heldInGifts: 0 })
  expect(await balance(sender.token)).toMatchObject({ balance: 70, heldInGifts: 0 })
  expect((await api.get(`/api/points/gifts/${created.body.code}`, { token: sender.token })).body.status).toBe(
    'CLAIMED',
  )
  expect(await kinds(claimer.token)).toEqual(['GIFT_RECEIVE'])
  expect(await kinds(sender.token)).toEqual(['GIFT_SEND', 'MERCHANT_GRANT'])
})

it('cancelling a pending gift returns its points to the sender', async () => {
  const { api } = origin
  const sender = await userWithPoints(api, 50)
  const created = await api.post('/api/points/gifts', { points: 50 }, { token: sender.token })
  expect(created.status).toBe(201)
  expect(created.body.message).toBe('')
  expect(await balance(sender.token)).toMatchObject({ balance: 0, heldInGifts: 50 })
  const cancelled = await api.post(`/api/points/gifts/${created.body.id}/cancel`, undefined, {
    token: sender.token,
  })
  expect(cancelled.status).toBe(200)
  expect(cancelled.body).toMatchObject({ gift: { id: created.body.id, status: 'CANCELLED' }, balance: 50 })
  expect(await balance(sender.token)).toMatchObject({ balance: 50, heldInGifts: 0, totalEarned: 50 })
  expect(await kinds(sender.token)).toEqual(['GIFT_RETURN', 'GIFT_SEND', 'MERCHANT_GRANT'])
})

it('pages records newest first with balanceAfter chained', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const user = await userWithPoints(api, 10, m)
  for (const points of [20, 30]) {
    await api.post(
      '/api/merchant/grants',
      { userId: user.id, points, reason: 'more' },
      { token: m.ownerToken },
    )
  }
  const first = await api.get('/api/points/records?limit=2', { token: user.token })
  expect(
    first.body.items.map((r: { delta: number; balanceAfter: number }) => [r.delta, r.balanceAfter]),
  ).toEqual([
    [30, 60],
    [20, 30],
  ])
  expect(first.body.nextCursor).toEqual(expect.any(String))
  const rest = await api.get(`/api/points/records?limit=2&cursor=${first.body.nextCursor}`, {
    token: user.token,
  })
  expect(rest.body.items.map((r: { delta: number }) => r.delta)).toEqual([10])
  expect(rest.body.nextCursor).toBeNull()
})
