/**
 * kill -9 of the origin during a storm of orders that redeem points (API.md §14): created with a
 * retried Idempotency-Key, some paid with duplicate notifications, the rest left to expire and be
 * closed by the job. A crash may land between the order's commit (with its REDEEM hold), the
 * prepay and the recorded answer, or in the middle of a close.
 *
 * After recovery: one order per key, each holding its points once; every unpaid order CLOSED with
 * its points back once; every balance exactly start − redeemed (paid orders) + awards on
 * payableFen; the ledger audit and the global invariants hold.
 */
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, userWithPoints } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'
import { pool } from '../sim/driver.ts'
import { Rng } from '../sim/generator.ts'
import {
  auditBusinessAgainstLedger,
  newRetryStats,
  retrying,
  rows,
  sleep,
  userBalances,
  waitUntil,
} from './support.ts'

const START_POINTS = 300
let stack: Stack
let api: ReturnType<typeof apiClient>

beforeAll(async () => {
  stack = await startStack({ env: { ORDER_TTL_SECONDS: '8' }, sandboxRetryTimeScale: 0.001 })
  api = apiClient(stack.origin.url)
}, 60_000)

afterAll(async () => {
  await stack?.close()
})

describe('kill -9 of the origin while points are redeemed', () => {
  it('holds, returns and charges redeemed points exactly once across crashes', async () => {
    const rng = new Rng(14_2026)
    const stats = newRetryStats()
    const m = await activeMerchant(api)
    await api.put(
      '/api/merchant/rule',
      {
        earnPoints: 1,
        perFen: 100,
        minOrderFen: 0,
        maxPointsPerOrder: null,
        dailyCapPerUser: null,
        redeemFenPerPoint: 2,
        redeemMaxPercent: 50,
      },
      { token: m.ownerToken },
    )
    const shoppers = await Promise.all(Array.from({ length: 6 }, () => userWithPoints(api, START_POINTS, m)))
    const planned = Array.from({ length: 36 }, (_, i) => ({
      user: i % shoppers.length,
      key: idemKey(),
      amountFen: rng.int(1000, 20_000),
      redeemPoints: rng.int(10, 120),
      pay: rng.chance(0.5),
    }))
    const answered: Array<{ key: string; status: number; id?: string }> = []
    let finished = 0
    const work = pool(
      planned.map((p) => async () => {
        const body = { merchantId: m.merchantId, amountFen: p.amountFen, redeemPoints: p.redeemPoints }
        const r = await retrying(
          api,
          'POST',
          '/api/orders',
          { token: shoppers[p.user]!.token, body, idempotencyKey: p.key },
          stats,
        )
        // A replay after the crash must give the first answer again.
        const again = await retrying(
          api,
          'POST',
          '/api/orders',
          { token: shoppers[p.user]!.token, body, idempotencyKey: p.key },
          stats,
        )
        expect([again.status, again.body.id]).toEqual([r.status, r.body.id])
        answered.push({ key: p.key, status: r.status, id: r.body.id })
        if (r.status === 201 && p.pay) {
          const paid = await control(stack.sandbox, 'POST', '/pay', {
            outTradeNo: r.body.outTradeNo,
            amountFen: r.body.payableFen,
            duplicates: 3,
          })
          expect(paid.status).toBe(200)
        }
        finished++
      }),
      6,
    )
    let done = false
    work.finally(() => {
      done = true
    })
    let kills = 0
    for (const at of [0.2, 0.5, 0.8]) {
      while (finished < at * planned.length && !done) await sleep(10)
      if (done) break
      await stack.origin.stop('SIGKILL')
      await stack.restartOrigin()
      kills++
    }
    await work
    expect(kills).toBeGreaterThan(0)
    expect(stats.other5xx).toEqual([])
    for (const a of answered) expect([201, 422]).toContain(a.status)

    await waitUntil(
      'every order to be PAID or CLOSED',
      async () =>
        Number((await rows(stack, sql`SELECT COUNT(*) AS n FROM orders WHERE status = 'PENDING'`))[0]!.n) ===
        0,
      60_000,
    )
    const created = answered.filter((a) => a.status === 201)
    const orderRows = await rows(
      stack,
      sql`SELECT id, user_id, status, redeem_points, payable_fen, points_awarded FROM orders`,
    )
    expect(orderRows.map((o) => String(o.id)).sort()).toEqual(created.map((a) => a.id!).sort())
    const want = new Map(shoppers.map((s) => [s.id, START_POINTS]))
    for (const o of orderRows) {
      if (o.status === 'CLOSED') continue
      expect(o.status).toBe('PAID')
      expect(Number(o.points_awarded)).toBe(Math.floor(Number(o.payable_fen) / 100))
      const user = String(o.user_id)
      want.set(user, want.get(user)! - Number(o.redeem_points) + Number(o.points_awarded))
    }
    // Both ways out were taken: some orders paid, some closed by the job with their points back.
    expect(new Set(orderRows.map((o) => o.status))).toEqual(new Set(['PAID', 'CLOSED']))
    const balances = await userBalances(stack)
    for (const s of shoppers) expect(balances.get(s.id), `shopper ${s.id}`).toBe(want.get(s.id))
    expect(await auditBusinessAgainstLedger(stack)).toEqual([])
    expect(await invariants(stack)).toEqual(HOLDS)
  }, 240_000)
})
