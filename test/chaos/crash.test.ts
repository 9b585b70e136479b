/**
 * kill -9 of the origin at seeded random moments during three storms — payment callbacks (orders
 * paid with duplicate notifications), refund processing, and gifts (create, racing claims, cancels,
 * expiry) — each followed by a restart. Clients retry the way the mini-program does (the same
 * Idempotency-Key, or a harmless repeat); WeChat (the sandbox) redelivers every notification that
 * got no 2xx, on its retry schedule compressed 1000×.
 *
 * After recovery: every order is paid and awarded exactly once, every refund the bank finished is
 * applied exactly once with the formula's claw-back, every gift is settled exactly once (to the
 * one claimer who was told 200, or back to the sender), no transfer is half-applied, the global
 * invariants hold, and every balance is exactly what those outcomes add up to.
 */
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, userWithPoints } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'
import { Rng } from '../sim/generator.ts'
import {
  auditBusinessAgainstLedger,
  expectedShopperBalance,
  type Kill,
  newRetryStats,
  retrying,
  rows,
  stormWithKills,
  userBalances,
  waitUntil,
} from './support.ts'

const GIFT_TTL_SECONDS = 6
let stack: Stack
let api: ReturnType<typeof apiClient>

beforeAll(async () => {
  stack = await startStack({
    env: { GIFT_TTL_SECONDS: String(GIFT_TTL_SECONDS) },
    sandboxRetryTimeScale: 0.001,
  })
  api = apiClient(stack.origin.url)
}, 60_000)

afterAll(async () => {
  await stack?.close()
})

describe('kill -9 of the origin during storms', () => {
  it('awards, refunds and settles exactly once across crashes, with exact balances', async () => {
    const rng = new Rng(7_2024)
    const kills: Kill[] = []
    const stats = newRetryStats()
    const m = await activeMerchant(api)
    await api.put(
      '/api/merchant/rule',
      { earnPoints: 1, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
      { token: m.ownerToken },
    )
    const shoppers = await Promise.all(Array.from({ length: 10 }, () => userWithPoints(api, 300, m)))

    // ---- 1. callback storm: create (keyed, retried) and pay with 4 duplicate notifications ----
    const orders: Array<{ user: number; key: string; id: string; outTradeNo: string; amountFen: number }> = []
    const planned = Array.from({ length: 80 }, (_, i) => ({
      user: i % shoppers.length,
      key: idemKey(),
      amountFen: rng.int(100, 30_000),
    }))
    await stormWithKills(
      stack,
      'callback storm',
      rng,
      3,
      kills,
      planned.map((p) => async () => {
        const body = { merchantId: m.merchantId, amountFen: p.amountFen }
        const r = await retrying(
          api,
          'POST',
          '/api/orders',
          { token: shoppers[p.user]!.token, body, idempotencyKey: p.key },
          stats,
        )
        expect(r.status).toBe(201)
        orders.push({ ...p, id: r.body.id, outTradeNo: r.body.outTradeNo })
        const paid = await control(stack.sandbox, 'POST', '/pay', {
          outTradeNo: r.body.outTradeNo,
          duplicates: 4,
        })
        expect(paid.status).toBe(200)
      }),
    )
    await waitUntil(
      'every order to be PAID by redelivered notifications',
      async () =>
        Number((await rows(stack, sql`SELECT COUNT(*) AS n FROM orders WHERE status <> 'PAID'`))[0]!.n) === 0,
      40_000,
    )
    expect(Number((await rows(stack, sql`SELECT COUNT(*) AS n FROM orders`))[0]!.n)).toBe(planned.length)
    const awarded = await rows(stack, sql`SELECT id, amount_fen, points_awarded FROM orders`)
    for (const o of awarded) expect(Number(o.points_awarded)).toBe(Math.floor(Number(o.amount_fen) / 100))

    // ---- 2. refunds: keyed creation (retried), bank results with duplicate notifications ----
    const refunds: Array<{ order: string; amountFen: number; result: 'SUCCESS' | 'CLOSED'; id?: string }> = []
    for (const o of orders.slice(0, 40)) {
      const first = rng.chance(0.5) ? o.amountFen : rng.int(1, o.amountFen - 1 || 1)
      refunds.push({ order: o.id, amountFen: first, result: rng.chance(0.7) ? 'SUCCESS' : 'CLOSED' })
      if (first < o.amountFen && rng.chance(0.5))
        refunds.push({ order: o.id, amountFen: o.amountFen - first, result: 'SUCCESS' })
    }
    const byOrder = new Map<string, typeof refunds>()
    for (const r of refunds) byOrder.set(r.order, [...(byOrder.get(r.order) ?? []), r])
    await stormWithKills(
      stack,
      'refund processing',
      rng,
      2,
      kills,
      [...byOrder.values()].map((list) => async () => {
        // One order's refunds one after another (each must fit what is left), orders in parallel.
        for (const r of list) {
          const res = await retrying(
            api,
            'POST',
            `/api/merchant/orders/${r.order}/refunds`,
            {
              token: m.ownerToken,
              body: { amountFen: r.amountFen, reason: 'chaos' },
              idempotencyKey: idemKey(),
            },
            stats,
          )
          expect(res.status, res.text).toBe(202)
          r.id = res.body.id
          const done = await control(stack.sandbox, 'POST', `/refunds/${res.body.outRefundNo}/complete`, {
            status: r.result,
            duplicates: 3,
          })
          expect(done.status).toBe(200)
        }
      }),
    )
    await waitUntil(
      'every refund result to be applied',
      async () =>
        Number(
          (await rows(stack, sql`SELECT COUNT(*) AS n FROM refunds WHERE status = 'PROCESSING'`))[0]!.n,
        ) === 0,
      40_000,
    )
    const refundRows = await rows(stack, sql`SELECT id, status FROM refunds`)
    expect(refundRows.length).toBe(refunds.length)
    for (const r of refunds)
      expect(refundRows.find((x) => String(x.id) === r.id)?.status).toBe(
        r.result === 'SUCCESS' ? 'SUCCESS' : 'FAILED',
      )

    // ---- 3. gift storm: keyed creation, racing claims, some cancels, the rest expire ----
    const gifts: Array<{ sender: number; key: string; points: number; id?: string; code?: string }> = []
    const claims: Array<{ gift: number; claimer: number; status: number }> = []
    const cancels: Array<{ gift: number; status: number }> = []
    for (let s = 0; s < shoppers.length; s++)
      for (let k = 0; k < 5; k++) gifts.push({ sender: s, key: idemKey(), points: rng.int(1, 40) })
    const plan = gifts.map((g, gi) => ({
      gi,
      claimers: rng.chance(0.75)
        ? Array.from(
            { length: rng.int(1, 3) },
            () => (g.sender + rng.int(1, shoppers.length - 1)) % shoppers.length,
          )
        : [],
      cancel: rng.chance(0.2),
    }))
    await stormWithKills(
      stack,
      'gift storm',
      rng,
      2,
      kills,
      plan.map(({ gi, claimers, cancel }) => async () => {
        const g = gifts[gi]!
        const made = await retrying(
          api,
          'POST',
          '/api/points/gifts',
          { token: shoppers[g.sender]!.token, body: { points: g.points }, idempotencyKey: g.key },
          stats,
        )
        expect(made.status, made.text).toBe(201)
        g.id = made.body.id
        g.code = made.body.code
        await Promise.all([
          ...claimers.map(async (c) => {
            const r = await retrying(
              api,
              'POST',
              `/api/points/gifts/${g.code}/claim`,
              { token: shoppers[c]!.token },
              stats,
            )
            claims.push({ gift: gi, claimer: c, status: r.status })
          }),
          ...(cancel
            ? [
                (async () => {
                  const r = await retrying(
                    api,
                    'POST',
                    `/api/points/gifts/${g.id}/cancel`,
                    { token: shoppers[g.sender]!.token },
                    stats,
                  )
                  cancels.push({ gift: gi, status: r.status })
                })(),
              ]
            : []),
        ])
      }),
    )
    await waitUntil(
      'unclaimed gifts to expire and return',
      async () =>
        Number((await rows(stack, sql`SELECT COUNT(*) AS n FROM gifts WHERE status = 'PENDING'`))[0]!.n) ===
        0,
      (GIFT_TTL_SECONDS + 25) * 1000,
    )

    // ---- verification ----
    expect(stats.other5xx).toEqual([])
    expect(await invariants(stack)).toEqual(HOLDS)
    expect(await auditBusinessAgainstLedger(stack)).toEqual([])
    const giftRows = await rows(
      stack,
      sql`SELECT id, status, points, sender_user_id, claimed_by_user_id FROM gifts`,
    )
    expect(giftRows.length).toBe(gifts.length)
    for (const [gi, g] of gifts.entries()) {
      const row = giftRows.find((x) => String(x.id) === g.id)!
      const winners = claims.filter((c) => c.gift === gi && c.status === 200)
      // Whoever was told 200 is the one who has it; nobody else was told 200.
      expect(winners.length, `gift ${gi}`).toBeLessThanOrEqual(1)
      if (winners.length) expect(String(row.claimed_by_user_id)).toBe(shoppers[winners[0]!.claimer]!.id)
      if (cancels.some((c) => c.gift === gi && c.status === 200)) expect(row.status).toBe('CANCELLED')
      for (const c of claims.filter((x) => x.gift === gi && x.status !== 200))
        expect([409, 410], `claim of gift ${gi}: ${c.status}`).toContain(c.status)
    }
    // Balance of each shopper: grant + awards − claw-backs − gifts sent + gifts returned + gifts claimed.
    const balances = await userBalances(stack)
    for (const [i, s] of shoppers.entries()) {
      const expected = expectedShopperBalance({ index: i, id: s.id }, 300, orders, refunds, giftRows)
      expect(balances.get(s.id), `shopper ${i}`).toBe(expected)
    }
    console.info(
      `crash chaos: ${kills.length} kill -9s (${kills.map((k) => `${k.phase} +${k.atMs} ms, down ${k.downMs} ms`).join('; ')}); ` +
        `${stats.transportErrors} transport errors and ${stats.unavailable} × 503 retried by clients; ` +
        `${orders.length} orders, ${refunds.length} refunds, ${gifts.length} gifts, ${claims.length} claims`,
    )
    expect(kills.length).toBe(7)
  }, 170_000)
})
