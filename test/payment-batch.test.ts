/**
 * Group commit of payments (issue 16): a batch mixing plain payments, duplicates, payments that do
 * not match their order, capped awards, a CLOSED order whose redeemed points came back, and one
 * that cannot be applied at all; each is answered as it would be alone, and nothing is applied
 * twice or lost.
 */
import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { runTx } from '../origin/db/client.ts'
import { ensureAccount, knownSystemAccount, merchantIssuance } from '../origin/services/ledger.ts'
import { applyPayment } from '../origin/services/order-payment.ts'
import { closeUnpaid, lockOrder } from '../origin/services/order-state.ts'
import { applyPaymentBatch } from '../origin/services/payment-batch.ts'
import type { PayTransaction } from '../origin/wechat/pay-resources.ts'
import { activeMerchant, idemKey, uniqueOpenid, userWithPoints } from './harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from './harness/in-process.ts'
import { HOLDS } from './harness/stack.ts'

let origin: InProcessOrigin

beforeAll(async () => {
  origin = await startInProcessOrigin({ WECHAT_TEMPLATE_POINTS_EARNED: 'tpl-earned' })
})
afterEach(async () => {
  expect(await origin.invariants()).toEqual(HOLDS)
})
afterAll(async () => {
  await origin?.close()
})

const RULE: Record<string, number | null> = {
  earnPoints: 1,
  perFen: 10,
  minOrderFen: 0,
  maxPointsPerOrder: null,
  dailyCapPerUser: null,
}

async function merchantWithRule(rule: Record<string, number | null> = {}) {
  const m = await activeMerchant(origin.api)
  const res = await origin.api.put('/api/merchant/rule', { ...RULE, ...rule }, { token: m.ownerToken })
  expect(res.status).toBe(200)
  return m
}

async function order(token: string, merchantId: string, amountFen: number, redeemPoints = 0) {
  const body = redeemPoints > 0 ? { merchantId, amountFen, redeemPoints } : { merchantId, amountFen }
  const res = await origin.api.post('/api/orders', body, { token, idempotencyKey: idemKey() })
  expect(res.status, res.text).toBe(201)
  return res.body as { id: string; outTradeNo: string; payableFen: number }
}

const paid = (
  o: { outTradeNo: string; payableFen: number },
  over: Partial<PayTransaction> = {},
): PayTransaction => ({
  appid: origin.deps.config.WECHAT_APPID,
  mchid: origin.deps.config.WECHAT_MCHID,
  outTradeNo: o.outTradeNo,
  tradeState: 'SUCCESS',
  transactionId: `4200${o.outTradeNo}`.slice(0, 32),
  amountTotalFen: o.payableFen,
  currency: 'CNY',
  successTime: new Date().toISOString(),
  ...over,
})

const balanceOf = async (token: string) =>
  (await origin.api.get('/api/points/balance', { token })).body.balance as number

async function statusOf(orderId: string) {
  const [rows] = await origin.deps.db.primary.execute(
    sql`SELECT status, points_awarded AS pointsAwarded FROM orders WHERE id = ${Number(orderId)}`,
  )
  return (rows as unknown as Array<{ status: string; pointsAwarded: number }>)[0]
}

const earnTransfers = async (orderId: string) => {
  const [rows] = await origin.deps.db.primary.execute(
    sql`SELECT COUNT(*) AS n FROM transfers WHERE business_key = ${`EARN:${orderId}`}`,
  )
  return Number((rows as unknown as Array<{ n: number }>)[0]!.n)
}

async function batches() {
  const { values } = await origin.deps.metrics.paymentBatches.get()
  const of = (result: string) => values.find((v) => v.labels.result === result)?.value ?? 0
  return { committed: of('committed'), failed: of('failed') }
}

/** A transfer under the order's EARN key, as if it had been awarded while still unpaid. */
async function earnedAlready(userId: string, orderId: string) {
  const [acct] = (await origin.deps.db.primary.execute(
    sql`SELECT id FROM accounts WHERE kind = 'USER' AND owner_id = ${Number(userId)}`,
  )) as unknown as [Array<{ id: number }>]
  await origin.deps.db.primary.execute(
    sql`INSERT INTO transfers (business_key, kind, debit_account_id, credit_account_id, points, created_at)
        VALUES (${`EARN:${orderId}`}, 'EARN', ${acct[0]!.id}, ${acct[0]!.id}, 1, NOW())`,
  )
}

const outcomes = (settled: Array<PromiseSettledResult<unknown>>) =>
  settled.map((s) => (s.status === 'fulfilled' ? (s.value as { outcome: string }).outcome : 'error'))

describe('a payment batch', () => {
  it('answers each payment as it would be answered alone, in one transaction', async () => {
    const shop = await merchantWithRule()
    const capped = await merchantWithRule({ dailyCapPerUser: 150 })
    const alice = await origin.api.login(uniqueOpenid())
    const bobOpenid = uniqueOpenid()
    const bob = await origin.api.login(bobOpenid)
    const a1 = await order(alice.token, shop.merchantId, 1000)
    const a2 = await order(alice.token, shop.merchantId, 2500)
    const b1 = await order(bob.token, shop.merchantId, 990)
    // Two capped awards of 100 for the same user and day: the second gets what is left (50).
    const c1 = await order(bob.token, capped.merchantId, 1000)
    const c2 = await order(bob.token, capped.merchantId, 1000)
    const wrongAmount = await order(alice.token, shop.merchantId, 700)
    const alreadyPaid = await order(alice.token, shop.merchantId, 300)
    expect(outcomes(await applyPaymentBatch(origin.deps, [paid(alreadyPaid)]))).toEqual(['paid'])
    // Dave's cap is used up before the batch: his order in it is paid and earns nothing.
    const dave = await origin.api.login(uniqueOpenid())
    const d1 = await order(dave.token, capped.merchantId, 2000)
    const d2 = await order(dave.token, capped.merchantId, 500)
    expect(outcomes(await applyPaymentBatch(origin.deps, [paid(d1)]))).toEqual(['paid'])

    const batch = [
      paid(a1),
      paid(b1),
      paid(a1),
      paid(wrongAmount, { amountTotalFen: 1 }),
      paid({ outTradeNo: 'NO-SUCH-ORDER', payableFen: 100 }),
      paid(c1),
      paid(alreadyPaid),
      paid(a2),
      paid(c2),
      paid(wrongAmount),
      paid(d2),
    ]
    const before = await batches()
    const settled = await applyPaymentBatch(origin.deps, batch)
    expect(await batches()).toEqual({ committed: before.committed + 1, failed: before.failed })
    expect(outcomes(settled)).toEqual([
      'paid',
      'paid',
      'already_paid',
      'rejected',
      'rejected',
      'paid',
      'already_paid',
      'paid',
      'paid',
      'paid',
      'paid',
    ])
    expect(
      settled.map((s) => (s.status === 'fulfilled' && s.value.outcome === 'paid' ? s.value.awarded : null)),
    ).toEqual([100, 99, null, null, null, 100, null, 250, 50, 70, 0])
    expect(await balanceOf(alice.token)).toBe(100 + 250 + 70 + 30)
    expect(await balanceOf(bob.token)).toBe(99 + 150)
    expect(await balanceOf(dave.token)).toBe(150)
    expect((await statusOf(d2.id))?.status).toBe('PAID')
    expect(await earnTransfers(d2.id)).toBe(0)
    for (const o of [a1, a2, b1, c1, c2, wrongAmount, alreadyPaid]) {
      expect((await statusOf(o.id))?.status).toBe('PAID')
      expect(await earnTransfers(o.id)).toBe(1)
    }
    expect((await statusOf(c2.id))?.pointsAwarded).toBe(50)
    // One "points earned" message per credited order, to its payer, naming its shop.
    const [messages] = (await origin.deps.db.primary.execute(
      sql`SELECT dedupe_key AS k, payload FROM outbox WHERE dedupe_key IN (${sql.join(
        [a1, a2, b1, c1, c2, wrongAmount].map((o) => sql`${`points_earned:${o.id}`}`),
        sql`, `,
      )})`,
    )) as unknown as [Array<{ k: string; payload: unknown }>]
    expect(messages).toHaveLength(6)
    const c2Message = messages.find((m) => m.k === `points_earned:${c2.id}`)!.payload
    expect(c2Message).toMatchObject({
      touser: bobOpenid,
      data: { thing1: { value: 'Tea House' }, number2: { value: '50' } },
    })
  })

  it('applies a CLOSED order whose redeemed points came back on its own, taking them again', async () => {
    const shop = await merchantWithRule({ redeemFenPerPoint: 1, redeemMaxPercent: 50 })
    const payer = await userWithPoints(origin.api, 200)
    const held = await order(payer.token, shop.merchantId, 1000, 200)
    expect(held.payableFen).toBe(800)
    await runTx(origin.deps.db.primary, async (tx) => {
      const row = await lockOrder(tx, { id: Number(held.id) })
      expect(await closeUnpaid(tx, row!, new Date())).toBe(200)
    })
    expect(await balanceOf(payer.token)).toBe(200)
    const other = await order(payer.token, shop.merchantId, 500)

    const settled = await applyPaymentBatch(origin.deps, [paid(held), paid(other), paid(held)])
    expect(outcomes(settled)).toEqual(['paid', 'paid', 'already_paid'])
    // 200 taken again for the redemption, then 80 + 50 earned.
    expect(await balanceOf(payer.token)).toBe(200 - 200 + 80 + 50)
    expect((await statusOf(held.id))?.status).toBe('PAID')
  })

  it('fails only the payment that cannot be applied; the rest of its batch goes through', async () => {
    const shop = await merchantWithRule()
    const payer = await origin.api.login(uniqueOpenid())
    const good = await order(payer.token, shop.merchantId, 1000)
    const broken = await order(payer.token, shop.merchantId, 2000)
    const alsoGood = await order(payer.token, shop.merchantId, 3000)
    // An award already on the books for an unpaid order: the ledger's unique key refuses a second
    // one, so the batch's one statement for all transfers fails.
    await earnedAlready(payer.user.id, broken.id)
    const before = await batches()
    const settled = await applyPaymentBatch(origin.deps, [paid(good), paid(broken), paid(alsoGood)])
    expect(await batches()).toEqual({ committed: before.committed, failed: before.failed + 1 })
    expect(outcomes(settled)).toEqual(['paid', 'error', 'paid'])
    expect(await balanceOf(payer.token)).toBe(100 + 300)
    expect((await statusOf(broken.id))?.status).toBe('PENDING')
    await origin.deps.db.primary.execute(
      sql`DELETE FROM transfers WHERE business_key = ${`EARN:${broken.id}`}`,
    )
    expect(outcomes(await applyPaymentBatch(origin.deps, [paid(broken)]))).toEqual(['paid'])
    expect(await balanceOf(payer.token)).toBe(100 + 200 + 300)
  })

  it('never remembers a system account whose creation was rolled back', async () => {
    const ref = merchantIssuance(900_000_000 + Math.floor(Math.random() * 1_000_000))
    await expect(
      runTx(origin.deps.db.primary, async (tx) => {
        await ensureAccount(tx, ref, new Date())
        throw new Error('crash before commit')
      }),
    ).rejects.toThrow('crash before commit')
    expect(knownSystemAccount(ref)).toBeUndefined()
    const id = await ensureAccount(origin.deps.db.primary, ref, new Date())
    const [rows] = (await origin.deps.db.primary.execute(
      sql`SELECT id FROM accounts WHERE id = ${id}`,
    )) as unknown as [Array<{ id: number }>]
    expect(rows).toHaveLength(1)
  })

  it('never uses an issuance account created by a batch that rolled back', async () => {
    const shop = await merchantWithRule()
    const ref = merchantIssuance(Number(shop.merchantId))
    // As before the merchant's first award: no issuance account yet (nothing refers to it).
    await origin.deps.db.primary.execute(
      sql`DELETE FROM accounts WHERE kind = 'MERCHANT_ISSUANCE' AND owner_id = ${Number(shop.merchantId)}`,
    )
    expect(knownSystemAccount(ref)).toBeUndefined()
    const payer = await origin.api.login(uniqueOpenid())
    const good = await order(payer.token, shop.merchantId, 1000)
    const broken = await order(payer.token, shop.merchantId, 2000)
    await earnedAlready(payer.user.id, broken.id)
    // The batch creates the issuance account, then fails on the broken award and rolls back.
    expect(outcomes(await applyPaymentBatch(origin.deps, [paid(good), paid(broken)]))).toEqual([
      'paid',
      'error',
    ])
    const [orphans] = (await origin.deps.db.primary.execute(
      sql`SELECT COUNT(*) AS n FROM ledger_entries e LEFT JOIN accounts a ON a.id = e.account_id WHERE a.id IS NULL`,
    )) as unknown as [Array<{ n: number }>]
    expect(Number(orphans[0]!.n)).toBe(0)
    expect(await balanceOf(payer.token)).toBe(100)
    await origin.deps.db.primary.execute(
      sql`DELETE FROM transfers WHERE business_key = ${`EARN:${broken.id}`}`,
    )
  })

  it('gives each order its award once when 60 deliveries of 20 orders arrive at once', async () => {
    const shop = await merchantWithRule({ dailyCapPerUser: 1000 })
    const payers = await Promise.all([0, 1, 2, 3].map(() => origin.api.login(uniqueOpenid())))
    const orders = []
    for (let i = 0; i < 20; i++)
      orders.push(await order(payers[i % 4]!.token, shop.merchantId, 1000 + i * 100))
    expect(origin.deps.paymentBatch).toBeDefined()
    const deliveries = [...orders, ...orders, ...orders].map((o) => paid(o))
    const before = await batches()
    const answers = await Promise.all(deliveries.map((txn) => applyPayment(origin.deps, txn, 'notification')))
    const after = await batches()
    // Sixty at once cannot all have gone alone: at most PAYMENT_BATCH_IN_FLIGHT batches ran at a time.
    expect(after.committed - before.committed).toBeGreaterThan(0)
    expect(after.committed - before.committed).toBeLessThan(20)
    expect(after.failed).toBe(before.failed)
    expect(answers.filter((a) => a === 'paid')).toHaveLength(20)
    expect(answers.filter((a) => a === 'already_paid')).toHaveLength(40)
    for (const o of orders) expect(await earnTransfers(o.id)).toBe(1)
    // Each payer's five orders earn 100+…: capped at 1 000 a day.
    for (const [i, p] of payers.entries()) {
      const mine = orders.filter((_, j) => j % 4 === i)
      const earned = mine.reduce((sum, o) => sum + Math.floor(o.payableFen / 10), 0)
      expect(await balanceOf(p.token)).toBe(Math.min(1000, earned))
    }
  })
})
