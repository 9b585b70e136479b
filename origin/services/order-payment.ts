/**
 * The one place where an order becomes PAID and earns its points — whether WeChat told us by
 * notification, by an active query, by the reconciliation job or in its trade bill. Order state
 * and the award commit in one transaction; the award's business key (EARN:<orderId>) and the
 * order's row lock make it exactly-once.
 */
import { eq, sql } from 'drizzle-orm'
import { merchants } from '../../db/schema.ts'
import { type Numeric, runTx, selectRows, type Tx, writeRows } from '../db/client.ts'
import type { PayTransaction } from '../wechat/pay-resources.ts'
import { capByDailyLimit, pointsForOrder, shanghaiDay } from './award-rule.ts'
import { merchantIssuance, transfer, userAccount } from './ledger.ts'
import type { OrderRow } from './order-queries.ts'
import { lockOrder, markPaid, PAYABLE } from './order-state.ts'
import { enqueuePointsEarned } from './outbox.ts'
import type { Applied, PaymentOutcome, Rejected } from './payment-applied.ts'
import type { PaymentDeps } from './payment-deps.ts'

export type { PaymentOutcome } from './payment-applied.ts'

export const ruleOfOrder = (
  o: Pick<
    OrderRow,
    'ruleEarnPoints' | 'rulePerFen' | 'ruleMinOrderFen' | 'ruleMaxPointsPerOrder' | 'ruleDailyCapPerUser'
  >,
) => ({
  earnPoints: o.ruleEarnPoints,
  perFen: o.rulePerFen,
  minOrderFen: o.ruleMinOrderFen,
  maxPointsPerOrder: o.ruleMaxPointsPerOrder,
  dailyCapPerUser: o.ruleDailyCapPerUser,
})

/** The award for a paid order: the snapshotted rule, then what today's cap still allows. */
async function awardFor(tx: Tx, order: OrderRow, paidAt: Date): Promise<number> {
  const rule = ruleOfOrder(order)
  const points = pointsForOrder(rule, order.payableFen)
  // Every award is counted, capped or not: a cap set later in the day still sees what was earned
  // earlier that day (API.md §3: what is left of the cap for that user at that merchant that day).
  if (points === 0) return 0
  const day = shanghaiDay(paidAt)
  const today = sql`user_id = ${order.userId} AND merchant_id = ${order.merchantId} AND day = ${day}`
  if (rule.dailyCapPerUser === null) {
    await writeRows(
      tx,
      sql`INSERT INTO daily_awards (user_id, merchant_id, day, points)
          VALUES (${order.userId}, ${order.merchantId}, ${day}, ${points})
          ON DUPLICATE KEY UPDATE points = points + ${points}`,
    )
    return points
  }
  // Upsert-then-read under the row's X lock: concurrent awards for this user and merchant queue here.
  await writeRows(
    tx,
    sql`INSERT INTO daily_awards (user_id, merchant_id, day, points)
        VALUES (${order.userId}, ${order.merchantId}, ${day}, 0)
        ON DUPLICATE KEY UPDATE points = points`,
  )
  const [counted] = await selectRows<{ points: Numeric }>(
    tx,
    sql`SELECT points FROM daily_awards WHERE ${today} FOR UPDATE`,
  )
  const award = capByDailyLimit(points, rule.dailyCapPerUser, Number(counted?.points ?? 0))
  if (award > 0) await writeRows(tx, sql`UPDATE daily_awards SET points = points + ${award} WHERE ${today}`)
  return award
}

async function award(deps: PaymentDeps, tx: Tx, order: OrderRow, paidAt: Date, now: Date): Promise<number> {
  const points = await awardFor(tx, order, paidAt)
  if (points === 0) return 0
  const moved = await transfer(tx, {
    businessKey: `EARN:${order.id}`,
    kind: 'EARN',
    debit: merchantIssuance(order.merchantId),
    credit: userAccount(order.userId),
    points,
    merchantId: order.merchantId,
    refId: String(order.id),
    now,
  })
  if (!moved.applied) throw new Error(`order ${order.id}: awarded twice while unpaid`)
  const [shop] = await tx
    .select({ name: merchants.name })
    .from(merchants)
    .where(eq(merchants.id, order.merchantId))
  await enqueuePointsEarned(tx, deps.config.WECHAT_TEMPLATE_POINTS_EARNED, [
    { orderId: order.id, userId: order.userId, merchantName: shop?.name ?? '', points, at: now },
  ])
  return points
}

export const paidAtOf = (txn: PayTransaction) =>
  txn.successTime && !Number.isNaN(Date.parse(txn.successTime)) ? new Date(txn.successTime) : new Date()

/** What a payment cannot be applied to, checked under the order's lock before anything changes. */
export function mismatchOf(
  order: Pick<OrderRow, 'subMchid' | 'payableFen'>,
  txn: PayTransaction,
): Rejected | undefined {
  // A direct order must not be settled by a partner answer, nor one sub-merchant's by another's.
  if ((order.subMchid ?? undefined) !== txn.subMchid) return { outcome: 'rejected', why: 'sub_mchid' }
  if (txn.amountTotalFen !== order.payableFen) return { outcome: 'rejected', why: 'amount' }
  return undefined
}

/** One payment in its own transaction: the path of a lone payment, and of what a batch leaves out. */
export function applyOne(deps: PaymentDeps, txn: PayTransaction): Promise<Applied> {
  return runTx(deps.db.primary, async (tx): Promise<Applied> => {
    const order = await lockOrder(tx, { outTradeNo: txn.outTradeNo })
    if (!order) return { outcome: 'rejected', why: 'no such order' }
    const mismatch = mismatchOf(order, txn)
    if (mismatch) return mismatch
    if (!PAYABLE.includes(order.status)) return { outcome: 'already_paid' }
    const paidAt = paidAtOf(txn)
    const now = new Date()
    const awarded = await award(deps, tx, order, paidAt, now)
    await markPaid(tx, order, {
      pointsAwarded: awarded,
      transactionId: txn.transactionId ?? null,
      paidAt,
      now,
    })
    return { outcome: 'paid', awarded, retaken: order.redeemReturned }
  })
}

/**
 * Applies WeChat's word that an order is paid. Checked against the order before anything changes:
 * appid, mchid (sp_appid, sp_mchid in partner mode), the sub-merchant the order pays, amount and
 * currency must match. A paid answer wins over a local close, because the shopper's money was taken.
 * With `deps.paymentBatch`, payments arriving together commit together (payment-batch.ts).
 */
export async function applyPayment(
  deps: PaymentDeps,
  txn: PayTransaction,
  source: 'notification' | 'query' | 'job' | 'bill',
): Promise<PaymentOutcome> {
  deps.metrics.payments.inc()
  if (txn.tradeState !== 'SUCCESS') return 'rejected'
  const mismatch = (why: string) => {
    deps.log.error('payment does not match its order', { outTradeNo: txn.outTradeNo, source, why })
    return 'rejected' as const
  }
  if (txn.appid !== deps.config.WECHAT_APPID) return mismatch('appid')
  if (txn.mchid !== deps.config.WECHAT_MCHID) return mismatch('mchid')
  if (txn.currency !== undefined && txn.currency !== 'CNY') return mismatch('currency')
  const applied = deps.paymentBatch ? await deps.paymentBatch.submit(txn) : await applyOne(deps, txn)
  if (applied.outcome === 'rejected') return mismatch(applied.why)
  if (applied.outcome === 'paid') {
    deps.metrics.paymentSuccess.inc()
    deps.metrics.orders.inc({ status: 'PAID' })
    if (applied.awarded > 0) {
      deps.metrics.pointsAwards.inc()
      deps.metrics.pointsAwardSuccess.inc()
      deps.metrics.pointsMoved.inc({ kind: 'EARN' }, applied.awarded)
    }
    if (applied.retaken > 0) deps.metrics.pointsMoved.inc({ kind: 'REDEEM' }, applied.retaken)
  }
  return applied.outcome
}
