/** /api/points in process: a token is required, and only a gift's sender may cancel it. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { idemKey, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
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

it('needs a valid bearer token on every /api/points route', async () => {
  const calls = [
    ['GET', '/api/points/balance'],
    ['GET', '/api/points/records'],
    ['POST', '/api/points/gifts'],
    ['GET', '/api/points/gifts/ABCDEFGH1234'],
    ['POST', '/api/points/gifts/ABCDEFGH1234/claim'],
    ['POST', '/api/points/gifts/1/cancel'],
  ] as const
  for (const [method, path] of calls) {
    for (const token of [undefined, 'not-a-jwt']) {
      const res = await origin.api.call(method, path, {
        token,
        body: path === '/api/points/gifts' ? { points: 1 } : undefined,
      })
      expect([method, path, token, res.status, res.body.error.code]).toEqual([
        method,
        path,
        token,
        401,
        'UNAUTHENTICATED',
      ])
    }
  }
})

it("refuses to cancel another user's gift as 404, leaving it claimable", async () => {
  const { api } = origin
  const sender = await userWithPoints(api, 30)
  const stranger = await api.login(uniqueOpenid())
  const created = await api.post('/api/points/gifts', { points: 30 }, { token: sender.token })
  const res = await api.post(`/api/points/gifts/${created.body.id}/cancel`, undefined, {
    token: stranger.token,
  })
  expect([res.status, res.body.error.code]).toEqual([404, 'NOT_FOUND'])
  expect(
    (await api.get(`/api/points/gifts/${created.body.code}`, { token: stranger.token })).body.status,
  ).toBe('PENDING')
  const claimed = await api.post(`/api/points/gifts/${created.body.code}/claim`, undefined, {
    token: stranger.token,
  })
  expect(claimed.body).toMatchObject({ gift: { status: 'CLAIMED' }, balance: 30 })
})

it('shows each caller only their own balance and records', async () => {
  const { api } = origin
  const rich = await userWithPoints(api, 500)
  const other = await api.login(uniqueOpenid())
  expect((await api.get('/api/points/balance', { token: other.token })).body.balance).toBe(0)
  expect((await api.get('/api/points/records', { token: other.token })).body.items).toEqual([])
  expect((await api.get('/api/points/balance', { token: rich.token })).body.balance).toBe(500)
})

it('a gift view names the sender by nickname only', async () => {
  const { api } = origin
  const sender = await userWithPoints(api, 5)
  const created = await api.post('/api/points/gifts', { points: 5 }, { token: sender.token })
  const viewer = await api.login(uniqueOpenid())
  const view = await api.get(`/api/points/gifts/${created.body.code}`, { token: viewer.token })
  expect(Object.keys(view.body.sender)).toEqual(['nickname'])
  expect(view.text).not.toContain(`"${sender.id}"`)
  expect(view.body).not.toHaveProperty('id')
})

it("scopes Idempotency-Keys per caller: another user's key never replays their gift", async () => {
  const { api } = origin
  const a = await userWithPoints(api, 10)
  const b = await userWithPoints(api, 10)
  const key = idemKey()
  const first = await api.post('/api/points/gifts', { points: 4 }, { token: a.token, idempotencyKey: key })
  const second = await api.post('/api/points/gifts', { points: 4 }, { token: b.token, idempotencyKey: key })
  expect([first.status, second.status]).toEqual([201, 201])
  expect(second.headers.get('idempotent-replayed')).toBeNull()
  expect(second.body.id).not.toBe(first.body.id)
  expect(second.body.code).not.toBe(first.body.code)
  const other = await api.post(
    '/api/points/gifts',
    { points: 5 },
    { token: b.token, idempotencyKey: idemKey() },
  )
  expect(other.status).toBe(201)
  expect((await api.get('/api/points/balance', { token: a.token })).body).toMatchObject({
    balance: 6,
    heldInGifts: 4,
  })
  expect((await api.get('/api/points/balance', { token: b.token })).body).toMatchObject({
    balance: 1,
    heldInGifts: 9,
  })
})
