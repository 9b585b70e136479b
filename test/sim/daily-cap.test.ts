/**
 * Finding 1 of the simulator (docs/RELIABILITY.md), pinned as a plain test: API.md §3 caps an award
 * "by what is left of dailyCapPerUser for that user at that merchant that day". Points the user was
 * already awarded that day count, whichever rule they were awarded under. The origin only records a
 * day's awards for orders whose rule has a daily cap, so when the merchant introduces a cap during
 * the day, the awards made earlier that day are not counted and the user gets up to a whole cap more.
 *
 * Expected to fail until origin/services/orders.ts awardFor records every award of the day.
 */
import { describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { activeMerchant, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { HOLDS, invariants } from '../harness/stack.ts'
import { useStack } from '../harness/use-stack.ts'

const file = useStack()

describe('daily cap across a rule change (simulator finding 1)', () => {
  it('counts the awards made earlier that day under an uncapped rule', async () => {
    const m = await activeMerchant(file.api)
    const rule = (dailyCapPerUser: number | null) =>
      file.api.put(
        '/api/merchant/rule',
        { earnPoints: 1, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser },
        { token: m.ownerToken },
      )
    const shopper = await file.api.login(uniqueOpenid('cap'))
    const order = async () => {
      const r = await file.api.post(
        '/api/orders',
        { merchantId: m.merchantId, amountFen: 1000 },
        { token: shopper.token, idempotencyKey: idemKey() },
      )
      expect(r.status).toBe(201)
      return r.body as { id: string; outTradeNo: string }
    }
    expect((await rule(null)).status).toBe(200)
    const first = await order()
    await control(file.stack.sandbox, 'POST', '/pay', { outTradeNo: first.outTradeNo })
    expect((await rule(15)).status).toBe(200)
    const second = await order()
    await control(file.stack.sandbox, 'POST', '/pay', { outTradeNo: second.outTradeNo })

    const awarded = async (id: string) =>
      (await file.api.get(`/api/orders/${id}`, { token: shopper.token })).body.pointsAwarded
    expect(await awarded(first.id)).toBe(10)
    // 10 of today's 15 are used up: 5 are left for the second order (the origin awards 10).
    expect(await awarded(second.id)).toBe(5)
    expect((await file.api.get('/api/points/balance', { token: shopper.token })).body.balance).toBe(15)
    expect(await invariants(file.stack)).toEqual(HOLDS)
  })
})
