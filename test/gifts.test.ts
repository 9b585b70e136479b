import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from './harness/client.ts'
import { activeMerchant, idemKey, uniqueOpenid, userWithPoints } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

const GIFT_TTL_SECONDS = 5
let stack: Stack
let api: ReturnType<typeof apiClient>
let merchant: Awaited<ReturnType<typeof activeMerchant>>

beforeAll(async () => {
  // Long enough for the concurrent scenarios to finish on a loaded machine, short for the expiry one.
  stack = await startStack({ env: { GIFT_TTL_SECONDS: String(GIFT_TTL_SECONDS) } })
  api = apiClient(stack.origin.url)
  merchant = await activeMerchant(api)
})
afterEach(async () => {
  expect(await invariants(stack)).toEqual(HOLDS)
})
afterAll(async () => {
  await stack?.close()
})

const balance = async (token: string) => (await api.get('/api/points/balance', { token })).body

describe('gifts', () => {
  it('holds the points at once, lets a friend claim them, and records both sides', async () => {
    const alice = await userWithPoints(api, 100, merchant)
    const bob = await userWithPoints(api, 0, merchant)
    const created = await api.post(
      '/api/points/gifts',
      { points: 30, message: '生日快乐 🎂' },
      { token: alice.token },
    )
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      points: 30,
      message: '生日快乐 🎂',
      status: 'PENDING',
      code: expect.any(String),
    })
    expect(await balance(alice.token)).toEqual({
      balance: 70,
      heldInGifts: 30,
      totalEarned: 100,
      expiringSoon: null,
    })

    const view = await api.get(`/api/points/gifts/${created.body.code}`, { token: bob.token })
    expect(view.status).toBe(200)
    expect(view.body).toMatchObject({
      points: 30,
      status: 'PENDING',
      sender: { nickname: expect.any(String) },
    })

    const claimed = await api.post(`/api/points/gifts/${created.body.code}/claim`, undefined, {
      token: bob.token,
    })
    expect(claimed.status).toBe(200)
    expect(claimed.body).toMatchObject({ gift: { status: 'CLAIMED', points: 30 }, balance: 30 })
    expect(await balance(alice.token)).toEqual({
      balance: 70,
      heldInGifts: 0,
      totalEarned: 100,
      expiringSoon: null,
    })
    expect(await balance(bob.token)).toMatchObject({ balance: 30, heldInGifts: 0 })

    const records = await api.get('/api/points/records', { token: alice.token })
    expect(
      records.body.items.map((r: { kind: string; delta: number; balanceAfter: number }) => [
        r.kind,
        r.delta,
        r.balanceAfter,
      ]),
    ).toEqual([
      ['GIFT_SEND', -30, 70],
      ['MERCHANT_GRANT', 100, 100],
    ])
    const bobRecords = await api.get('/api/points/records', { token: bob.token })
    expect(bobRecords.body.items[0]).toMatchObject({
      kind: 'GIFT_RECEIVE',
      delta: 30,
      balanceAfter: 30,
      refId: created.body.id,
    })
  })

  it('refuses to gift more than the balance, zero, fractions and claiming your own gift', async () => {
    const carol = await userWithPoints(api, 10, merchant)
    const tooMuch = await api.post('/api/points/gifts', { points: 11 }, { token: carol.token })
    expect(tooMuch.status).toBe(422)
    expect(tooMuch.body.error.code).toBe('INSUFFICIENT_POINTS')
    for (const points of [0, -5, 1.5, '5', null]) {
      const bad = await api.post('/api/points/gifts', { points }, { token: carol.token })
      expect(bad.status).toBe(400)
      expect(bad.body.error.details.field).toBe('points')
    }
    const gift = await api.post('/api/points/gifts', { points: 10 }, { token: carol.token })
    const own = await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, { token: carol.token })
    expect(own.status).toBe(422)
    expect(own.body.error.code).toBe('CANNOT_CLAIM_OWN_GIFT')
    expect(await balance(carol.token)).toMatchObject({ balance: 0, heldInGifts: 10 })
  })

  it('lets only the sender cancel a pending gift, returning the points', async () => {
    const dan = await userWithPoints(api, 50, merchant)
    const eve = await userWithPoints(api, 0, merchant)
    const gift = await api.post('/api/points/gifts', { points: 20 }, { token: dan.token })
    const byOther = await api.post(`/api/points/gifts/${gift.body.id}/cancel`, undefined, {
      token: eve.token,
    })
    expect(byOther.status).toBe(404)
    const cancelled = await api.post(`/api/points/gifts/${gift.body.id}/cancel`, undefined, {
      token: dan.token,
    })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body).toMatchObject({ gift: { status: 'CANCELLED' }, balance: 50 })
    const again = await api.post(`/api/points/gifts/${gift.body.id}/cancel`, undefined, { token: dan.token })
    expect(again.status).toBe(409)
    const claimAfter = await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, {
      token: eve.token,
    })
    expect(claimAfter.status).toBe(409)
    expect(claimAfter.body.error.code).toBe('INVALID_STATE')
    expect(await balance(dan.token)).toEqual({
      balance: 50,
      heldInGifts: 0,
      totalEarned: 50,
      expiringSoon: null,
    })
  })

  it('returns expired gifts to the sender automatically and refuses late claims with 410', async () => {
    const fay = await userWithPoints(api, 40, merchant)
    const gus = await userWithPoints(api, 0, merchant)
    const gift = await api.post('/api/points/gifts', { points: 15 }, { token: fay.token })
    const other = await api.post('/api/points/gifts', { points: 5 }, { token: fay.token })
    await new Promise((r) => setTimeout(r, GIFT_TTL_SECONDS * 1000 + 600))
    // One of the two may be expired by the job and the other by the claim; both end EXPIRED.
    const late = await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, { token: gus.token })
    expect(late.status).toBe(410)
    expect(late.body.error.code).toBe('GIFT_EXPIRED')
    for (let i = 0; i < 50; i++) {
      if (
        (await api.get(`/api/points/gifts/${other.body.code}`, { token: gus.token })).body.status ===
        'EXPIRED'
      )
        break
      await new Promise((r) => setTimeout(r, 100))
    }
    expect((await api.get(`/api/points/gifts/${other.body.code}`, { token: gus.token })).body.status).toBe(
      'EXPIRED',
    )
    expect(await balance(fay.token)).toEqual({
      balance: 40,
      heldInGifts: 0,
      totalEarned: 40,
      expiringSoon: null,
    })
    const kinds = (await api.get('/api/points/records', { token: fay.token })).body.items.map(
      (r: { kind: string }) => r.kind,
    )
    expect(kinds.filter((k: string) => k === 'GIFT_RETURN')).toHaveLength(2)
  })

  it('gives one claim to 10 concurrent claimers of one gift', async () => {
    const sender = await userWithPoints(api, 100, merchant)
    const claimers = await Promise.all(Array.from({ length: 10 }, () => api.login(uniqueOpenid('claim'))))
    const gift = await api.post('/api/points/gifts', { points: 25 }, { token: sender.token })
    const results = await Promise.all(
      claimers.map((c) =>
        api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, { token: c.token }),
      ),
    )
    const statuses = results.map((r) => r.status).sort()
    expect(statuses).toEqual([200, ...Array(9).fill(409)])
    for (const r of results.filter((r) => r.status === 409))
      expect(r.body.error.code).toBe('GIFT_ALREADY_CLAIMED')
    const balances = await Promise.all(claimers.map((c) => balance(c.token)))
    expect(balances.map((b) => b.balance).sort((a, b) => b - a)).toEqual([25, ...Array(9).fill(0)])
  })

  it('runs many gifts in both directions between two users at once without errors or lost points', async () => {
    const a = await userWithPoints(api, 1000, merchant)
    const b = await userWithPoints(api, 1000, merchant)
    const rounds = 20
    const create = (from: typeof a) =>
      api.post('/api/points/gifts', { points: 7 }, { token: from.token, idempotencyKey: idemKey() })
    const created = await Promise.all(Array.from({ length: rounds }, (_, i) => create(i % 2 ? a : b)))
    expect(created.map((r) => r.status)).toEqual(Array(rounds).fill(201))
    const claims = await Promise.all(
      created.map((g, i) =>
        api.post(`/api/points/gifts/${g.body.code}/claim`, undefined, { token: (i % 2 ? b : a).token }),
      ),
    )
    expect(claims.map((r) => r.status)).toEqual(Array(rounds).fill(200))
    const [ba, bb] = await Promise.all([balance(a.token), balance(b.token)])
    expect(ba.balance + bb.balance).toBe(2000)
    expect(ba.balance).toBe(1000)
  })
})

describe('idempotency', () => {
  it('turns 25 concurrent duplicates of one gift request into one gift with one answer', async () => {
    const h = await userWithPoints(api, 100, merchant)
    const key = idemKey()
    const results = await Promise.all(
      Array.from({ length: 25 }, () =>
        api.post('/api/points/gifts', { points: 10 }, { token: h.token, idempotencyKey: key }),
      ),
    )
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([201]))
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1)
    expect(await balance(h.token)).toMatchObject({ balance: 90, heldInGifts: 10 })
  })

  it('replays the first answer for the same key and body, refuses the key with another body', async () => {
    const h = await userWithPoints(api, 100, merchant)
    const key = idemKey()
    const first = await api.post('/api/points/gifts', { points: 10 }, { token: h.token, idempotencyKey: key })
    const replay = await api.post(
      '/api/points/gifts',
      { points: 10 },
      { token: h.token, idempotencyKey: key },
    )
    expect(replay.status).toBe(201)
    expect(replay.body).toEqual(first.body)
    const reused = await api.post(
      '/api/points/gifts',
      { points: 11 },
      { token: h.token, idempotencyKey: key },
    )
    expect(reused.status).toBe(409)
    expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED')
    const bad = await api.post(
      '/api/points/gifts',
      { points: 10 },
      { token: h.token, idempotencyKey: 'short' },
    )
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.field).toBe('Idempotency-Key')
  })

  it('scopes keys per caller', async () => {
    const [x, y] = await Promise.all([userWithPoints(api, 20, merchant), userWithPoints(api, 20, merchant)])
    const key = idemKey()
    const gx = await api.post('/api/points/gifts', { points: 5 }, { token: x.token, idempotencyKey: key })
    const gy = await api.post('/api/points/gifts', { points: 5 }, { token: y.token, idempotencyKey: key })
    expect(gx.status).toBe(201)
    expect(gy.status).toBe(201)
    expect(gx.body.id).not.toBe(gy.body.id)
  })
})
