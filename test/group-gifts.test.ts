/** Group gifts (红包) and the daily gift limit (API.md §14), against the real origin. */
import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from './harness/client.ts'
import { activeMerchant, idemKey, uniqueOpenid, userWithPoints } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

const DAILY_MAX = 1000
const TTL_SECONDS = 10

let stack: Stack
let api: ReturnType<typeof apiClient>
let merchant: Awaited<ReturnType<typeof activeMerchant>>

beforeAll(async () => {
  stack = await startStack({
    env: { GIFT_TTL_SECONDS: String(TTL_SECONDS), GIFT_DAILY_MAX_POINTS: String(DAILY_MAX) },
  })
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
const claim = (code: string, token: string) =>
  api.post(`/api/points/gifts/${code}/claim`, undefined, { token })
const users = (n: number) => Promise.all(Array.from({ length: n }, () => api.login(uniqueOpenid('grp'))))

describe('group gifts', () => {
  it('refuses bad count and split with 400 naming the field', async () => {
    const s = await userWithPoints(api, 50, merchant)
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ points: 10, count: 0 }, 'count'],
      [{ points: 10, count: 11 }, 'count'],
      [{ points: 500, count: 101 }, 'count'],
      [{ points: 10, count: 1.5 }, 'count'],
      [{ points: 10, count: '2' }, 'count'],
      [{ points: 10, split: 'x' }, 'split'],
    ]
    for (const [body, field] of cases) {
      const res = await api.post('/api/points/gifts', body, { token: s.token })
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.error.details.field).toBe(field)
    }
    expect(await balance(s.token)).toMatchObject({ balance: 50, heldInGifts: 0 })
  })

  it('splits evenly with the remainder to the first claims, one claim per user, CLAIMED when none is left', async () => {
    const sender = await userWithPoints(api, 100, merchant)
    const [a, b, c, d] = await users(4)
    await api.patch('/api/me', { nickname: 'Ann' }, { token: a!.token })
    const created = await api.post(
      '/api/points/gifts',
      { points: 11, count: 3, message: '红包' },
      { token: sender.token },
    )
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      points: 11,
      count: 3,
      split: 'even',
      claimedCount: 0,
      remainingPoints: 11,
      claims: [],
      status: 'PENDING',
    })
    expect(await balance(sender.token)).toMatchObject({ balance: 89, heldInGifts: 11 })

    const first = await claim(created.body.code, a!.token)
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({
      share: 4,
      balance: 4,
      gift: {
        status: 'PENDING',
        claimedCount: 1,
        remainingPoints: 7,
        claims: [{ nickname: 'Ann', points: 4 }],
      },
    })
    const again = await claim(created.body.code, a!.token)
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('GIFT_ALREADY_CLAIMED')
    const own = await claim(created.body.code, sender.token)
    expect(own.status).toBe(422)
    expect(own.body.error.code).toBe('CANNOT_CLAIM_OWN_GIFT')
    expect(await balance(sender.token)).toMatchObject({ balance: 89, heldInGifts: 7 })

    expect((await claim(created.body.code, b!.token)).body).toMatchObject({ share: 4 })
    const last = await claim(created.body.code, c!.token)
    expect(last.body).toMatchObject({
      share: 3,
      gift: { status: 'CLAIMED', claimedCount: 3, remainingPoints: 0 },
    })
    const late = await claim(created.body.code, d!.token)
    expect(late.status).toBe(409)
    expect(late.body.error.code).toBe('GIFT_ALREADY_CLAIMED')

    const view = await api.get(`/api/points/gifts/${created.body.code}`, { token: d!.token })
    expect(view.body).toMatchObject({ status: 'CLAIMED', count: 3, claimedCount: 3, remainingPoints: 0 })
    expect(view.body.claims.map((x: { points: number }) => x.points)).toEqual([4, 4, 3])
    expect(view.body.claims[0]).toMatchObject({ nickname: 'Ann', claimedAt: expect.any(String) })
    expect(await balance(sender.token)).toEqual({
      balance: 89,
      heldInGifts: 0,
      totalEarned: 100,
      expiringSoon: null,
    })
    const cancel = await api.post(`/api/points/gifts/${created.body.id}/cancel`, undefined, {
      token: sender.token,
    })
    expect(cancel.status).toBe(409)
  })

  it('gives 20 random shares to 20 of 30 racing claimers, each user once even when they claim 3 times at once', async () => {
    const sender = await userWithPoints(api, 1000, merchant)
    const claimers = await users(30)
    const created = await api.post(
      '/api/points/gifts',
      { points: 1000, count: 20, split: 'random' },
      { token: sender.token },
    )
    expect(created.status).toBe(201)
    const results = await Promise.all(
      claimers.flatMap((u, i) =>
        Array.from({ length: 3 }, () => claim(created.body.code, u.token).then((r) => ({ i, r }))),
      ),
    )
    const wins = results.filter((x) => x.r.status === 200)
    expect(wins).toHaveLength(20)
    expect(new Set(wins.map((w) => w.i)).size).toBe(20)
    for (const x of results.filter((x) => x.r.status !== 200)) {
      expect(x.r.status).toBe(409)
      expect(x.r.body.error.code).toBe('GIFT_ALREADY_CLAIMED')
    }
    const shares = wins.map((w) => w.r.body.share as number)
    expect(shares.every((s) => Number.isInteger(s) && s >= 1)).toBe(true)
    expect(shares.reduce((a, b) => a + b, 0)).toBe(1000)
    const balances = await Promise.all(claimers.map((u) => balance(u.token)))
    expect(balances.reduce((sum, b) => sum + b.balance, 0)).toBe(1000)
    for (const w of wins) expect(balances[w.i]!.balance).toBe(w.r.body.share)
    const view = await api.get(`/api/points/gifts/${created.body.code}`, { token: claimers[0]!.token })
    expect(view.body).toMatchObject({
      status: 'CLAIMED',
      claimedCount: 20,
      remainingPoints: 0,
      split: 'random',
    })
    expect(view.body.claims).toHaveLength(20)
    expect(await balance(sender.token)).toMatchObject({ balance: 0, heldInGifts: 0 })
  })

  it('returns the unclaimed remainder on cancel', async () => {
    const sender = await userWithPoints(api, 100, merchant)
    const [a] = await users(1)
    const created = await api.post('/api/points/gifts', { points: 100, count: 4 }, { token: sender.token })
    expect((await claim(created.body.code, a!.token)).body.share).toBe(25)
    const cancelled = await api.post(`/api/points/gifts/${created.body.id}/cancel`, undefined, {
      token: sender.token,
    })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body).toMatchObject({
      balance: 75,
      gift: { status: 'CANCELLED', claimedCount: 1, remainingPoints: 0, claims: [{ points: 25 }] },
    })
    const records = (await api.get('/api/points/records', { token: sender.token })).body.items
    expect(records[0]).toMatchObject({
      kind: 'GIFT_RETURN',
      delta: 75,
      balanceAfter: 75,
      refId: created.body.id,
    })
    expect(await balance(sender.token)).toEqual({
      balance: 75,
      heldInGifts: 0,
      totalEarned: 100,
      expiringSoon: null,
    })
    expect(await balance(a!.token)).toMatchObject({ balance: 25 })
  })

  it('returns the unclaimed remainder on expiry and refuses later claims with 410', async () => {
    const sender = await userWithPoints(api, 60, merchant)
    const [a, b] = await users(2)
    const created = await api.post(
      '/api/points/gifts',
      { points: 60, count: 3, split: 'random' },
      { token: sender.token },
    )
    const got = (await claim(created.body.code, a!.token)).body.share as number
    await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000 + 600))
    const late = await claim(created.body.code, b!.token)
    expect(late.status).toBe(410)
    const view = await api.get(`/api/points/gifts/${created.body.code}`, { token: b!.token })
    expect(view.body).toMatchObject({ status: 'EXPIRED', claimedCount: 1, remainingPoints: 0 })
    expect(await balance(sender.token)).toEqual({
      balance: 60 - got,
      heldInGifts: 0,
      totalEarned: 60,
      expiringSoon: null,
    })
    const records = (await api.get('/api/points/records', { token: sender.token })).body.items
    expect(records[0]).toMatchObject({ kind: 'GIFT_RETURN', delta: 60 - got })
  })

  it('keeps the share rows and the gift row in step', async () => {
    const [rows] = (await stack.db.primary.execute(sql`
      SELECT g.id FROM gifts g JOIN gift_shares s ON s.gift_id = g.id
      GROUP BY g.id, g.points, g.share_count, g.claimed_count
      HAVING SUM(s.points) <> g.points OR COUNT(*) <> g.share_count
          OR SUM(s.claimed_by_user_id IS NOT NULL) <> g.claimed_count OR MIN(s.points) < 1`)) as unknown as [
      unknown[],
    ]
    expect(rows).toEqual([])
  })
})

describe('daily gift limit', () => {
  it('lets 20 concurrent creates of 70 put exactly 14 into gifts against a cap of 1 000, then the rest and not a point more', async () => {
    const s = await userWithPoints(api, 5000, merchant)
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        api.post(
          '/api/points/gifts',
          { points: 70, count: 2 },
          { token: s.token, idempotencyKey: idemKey() },
        ),
      ),
    )
    const created = results.filter((r) => r.status === 201)
    expect(created).toHaveLength(14)
    for (const r of results.filter((r) => r.status !== 201)) {
      expect(r.status).toBe(422)
      expect(r.body.error.code).toBe('GIFT_LIMIT_EXCEEDED')
      expect(r.body.error.details).toMatchObject({ dailyMaxPoints: DAILY_MAX })
    }
    expect(await balance(s.token)).toMatchObject({ balance: 5000 - 980, heldInGifts: 980 })
    const over = await api.post('/api/points/gifts', { points: 21 }, { token: s.token })
    expect(over.status).toBe(422)
    expect(over.body.error.code).toBe('GIFT_LIMIT_EXCEEDED')
    expect((await api.post('/api/points/gifts', { points: 20 }, { token: s.token })).status).toBe(201)
    expect((await api.post('/api/points/gifts', { points: 1 }, { token: s.token })).status).toBe(422)
    // Per sender: another user still has the whole day's allowance.
    const other = await userWithPoints(api, 1000, merchant)
    expect((await api.post('/api/points/gifts', { points: 1000 }, { token: other.token })).status).toBe(201)
  })

  it('counts cancelled gifts, but not gifts that were refused', async () => {
    const s = await userWithPoints(api, 700, merchant)
    const refused = await api.post('/api/points/gifts', { points: 701 }, { token: s.token })
    expect(refused.body.error.code).toBe('INSUFFICIENT_POINTS')
    const gift = await api.post('/api/points/gifts', { points: 600 }, { token: s.token })
    await api.post(`/api/points/gifts/${gift.body.id}/cancel`, undefined, { token: s.token })
    expect(await balance(s.token)).toMatchObject({ balance: 700 })
    const over = await api.post('/api/points/gifts', { points: 401 }, { token: s.token })
    expect(over.status).toBe(422)
    expect(over.body.error).toMatchObject({ code: 'GIFT_LIMIT_EXCEEDED', details: { giftedToday: 600 } })
    expect((await api.post('/api/points/gifts', { points: 400 }, { token: s.token })).status).toBe(201)
  })
})
