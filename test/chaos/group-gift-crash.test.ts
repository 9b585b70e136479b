/**
 * kill -9 of the origin while 30 users claim shares of group gifts (API.md §14) at once, each
 * retrying through the crashes as the mini-program does. A claim is one transaction (share row,
 * transfer, gift counters), so a crash between its steps must leave all of it or none: afterwards
 * every claimed share was paid exactly once to its claimer, every user holds at most one share of
 * a gift, the shares and the escrow add up, and whoever was told 200 holds the share they were told.
 */
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'
import { Rng } from '../sim/generator.ts'
import {
  auditBusinessAgainstLedger,
  type Kill,
  newRetryStats,
  retrying,
  rows,
  stormWithKills,
  userBalances,
} from './support.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>

beforeAll(async () => {
  stack = await startStack({ env: { GIFT_TTL_SECONDS: '600' } })
  api = apiClient(stack.origin.url)
}, 60_000)

afterAll(async () => {
  await stack?.close()
})

describe('kill -9 of the origin during group-gift claims', () => {
  it('leaves every claim whole or absent, each share paid once, each user once per gift', async () => {
    const rng = new Rng(14_2026)
    const kills: Kill[] = []
    const stats = newRetryStats()
    const m = await activeMerchant(api)
    const senders = await Promise.all(Array.from({ length: 3 }, () => userWithPoints(api, 500, m)))
    const claimers = await Promise.all(Array.from({ length: 30 }, () => api.login(uniqueOpenid('crash'))))
    const gifts: Array<{ id: string; code: string; points: number }> = []
    for (const [i, s] of senders.entries()) {
      const split = i % 2 ? 'random' : 'even'
      const r = await retrying(
        api,
        'POST',
        '/api/points/gifts',
        { token: s.token, body: { points: 497, count: 20, split }, idempotencyKey: idemKey() },
        stats,
      )
      expect(r.status, r.text).toBe(201)
      gifts.push({ id: r.body.id, code: r.body.code, points: 497 })
    }
    const told: Array<{ gift: number; user: string; status: number; share?: number }> = []
    // Each claimer claims every gift in turn, so all three gifts are claimed at once throughout.
    const tasks = claimers.flatMap((c) =>
      gifts.map((g, gi) => async () => {
        const r = await retrying(api, 'POST', `/api/points/gifts/${g.code}/claim`, { token: c.token }, stats)
        told.push({ gift: gi, user: c.user.id, status: r.status, share: r.body?.share })
      }),
    )
    await stormWithKills(stack, 'group claims', rng, 3, kills, tasks)

    expect(stats.other5xx).toEqual([])
    expect(await invariants(stack)).toEqual(HOLDS)
    expect(await auditBusinessAgainstLedger(stack)).toEqual([])
    const shares = await rows(
      stack,
      sql`SELECT gift_id, share_index, points, claimed_by_user_id FROM gift_shares
          WHERE gift_id IN (${sql.join(
            gifts.map((g) => sql`${Number(g.id)}`),
            sql`, `,
          )})`,
    )
    const balances = await userBalances(stack)
    for (const [gi, g] of gifts.entries()) {
      const mine = shares.filter((s) => String(s.gift_id) === g.id)
      expect(mine).toHaveLength(20)
      expect(mine.reduce((sum, s) => sum + Number(s.points), 0)).toBe(g.points)
      // 30 claimers, 20 shares: all shares went, each to a different user.
      const holders = mine.map((s) => String(s.claimed_by_user_id))
      expect(holders.every((h) => h !== 'null')).toBe(true)
      expect(new Set(holders).size).toBe(20)
      for (const t of told.filter((x) => x.gift === gi)) {
        const held = mine.find((s) => String(s.claimed_by_user_id) === t.user)
        // 200 ⇒ the share told; a 409 after a crash may be the user's own committed claim.
        if (t.status === 200) expect(Number(held?.points)).toBe(t.share)
        else expect(t.status, `claim answered ${t.status}`).toBe(409)
      }
    }
    for (const c of claimers) {
      const held = shares
        .filter((s) => String(s.claimed_by_user_id) === c.user.id)
        .reduce((sum, s) => sum + Number(s.points), 0)
      expect(balances.get(c.user.id), `claimer ${c.user.id}`).toBe(held)
    }
    for (const s of senders) expect(balances.get(s.id)).toBe(3)
    console.info(
      `group-gift crash chaos: ${kills.length} kill -9s (${kills.map((k) => `+${k.atMs} ms, down ${k.downMs} ms`).join('; ')}); ` +
        `${stats.transportErrors} transport errors and ${stats.unavailable} × 503 retried; ${told.length} claims`,
    )
    expect(kills.length).toBe(3)
  }, 120_000)
})
