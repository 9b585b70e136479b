/**
 * An order's life: which status may follow which, and the only functions that change an order's
 * status or money columns (the shipping job owns the shipping columns, prepay and query claims
 * their own). Each writer takes the caller's transaction with the order row locked by
 * `lockOrder`, checks the transition and the amounts again under that lock, and returns what it
 * did: callers count and log only after the commit, so a transaction retried after a deadlock
 * never reports twice.
 */
import { eq, sql } from 'drizzle-orm'
import { orders } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import { formatStatement, type Tx } from '../db/client.ts'
import type { OrderRow, OrderStatus } from './order-queries.ts'
import { redeemReturnTotal, retakeRedeemedPoints, returnRedeemedPoints } from './redemption.ts'

const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: ['PAID', 'CLOSED'],
  // WeChat's word that it took the shopper's money wins over a close that raced the payment.
  CLOSED: ['PAID'],
  PAID: ['PARTIALLY_REFUNDED', 'REFUNDED'],
  PARTIALLY_REFUNDED: ['PARTIALLY_REFUNDED', 'REFUNDED'],
  REFUNDED: [],
}

/** Statuses in which a payment may still be applied, and in which a refund may be accepted. */
export const PAYABLE: readonly OrderStatus[] = ['PENDING', 'CLOSED']
export const REFUNDABLE: readonly OrderStatus[] = ['PAID', 'PARTIALLY_REFUNDED']

function step(order: Pick<OrderRow, 'id' | 'status'>, to: OrderStatus): void {
  if (!NEXT[order.status].includes(to))
    throw new Error(`order ${order.id}: ${order.status} → ${to} is not a transition`)
}

/** Locks the order row for the rest of the transaction; every writer below expects this. */
export async function lockOrder(
  tx: Tx,
  by: { id: number } | { outTradeNo: string },
): Promise<OrderRow | undefined> {
  const where = 'id' in by ? eq(orders.id, by.id) : eq(orders.outTradeNo, by.outTradeNo)
  const [row] = await tx.select().from(orders).where(where).for('update')
  return row
}

/** What the payment batch reads of an order (it writes through `markPaidManyStatement`). */
export type BatchOrder = Pick<
  OrderRow,
  | 'id'
  | 'outTradeNo'
  | 'userId'
  | 'merchantId'
  | 'status'
  | 'payableFen'
  | 'subMchid'
  | 'redeemReturned'
  | 'ruleEarnPoints'
  | 'rulePerFen'
  | 'ruleMinOrderFen'
  | 'ruleMaxPointsPerOrder'
  | 'ruleDailyCapPerUser'
>

/** Locks several orders by out_trade_no, in index order, so concurrent batches never deadlock on them. */
export const lockOrdersStatement = (outTradeNos: string[]) =>
  formatStatement(
    `SELECT id, out_trade_no AS outTradeNo, user_id AS userId, merchant_id AS merchantId, status,
       payable_fen AS payableFen, sub_mchid AS subMchid, redeem_returned AS redeemReturned,
       rule_earn_points AS ruleEarnPoints, rule_per_fen AS rulePerFen, rule_min_order_fen AS ruleMinOrderFen,
       rule_max_points_per_order AS ruleMaxPointsPerOrder, rule_daily_cap_per_user AS ruleDailyCapPerUser
     FROM orders WHERE out_trade_no IN (?) ORDER BY out_trade_no FOR UPDATE`,
    [outTradeNos],
  )

const numberOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v))

/** A row of `lockOrdersStatement`, with numbers as numbers whatever the driver gave. */
export const batchOrderOf = (r: Record<string, unknown>): BatchOrder => ({
  id: Number(r.id),
  outTradeNo: String(r.outTradeNo),
  userId: Number(r.userId),
  merchantId: Number(r.merchantId),
  status: r.status as OrderStatus,
  payableFen: Number(r.payableFen),
  subMchid: r.subMchid === null ? null : String(r.subMchid),
  redeemReturned: Number(r.redeemReturned),
  ruleEarnPoints: Number(r.ruleEarnPoints),
  rulePerFen: Number(r.rulePerFen),
  ruleMinOrderFen: Number(r.ruleMinOrderFen),
  ruleMaxPointsPerOrder: numberOrNull(r.ruleMaxPointsPerOrder),
  ruleDailyCapPerUser: numberOrNull(r.ruleDailyCapPerUser),
})

interface Payment {
  pointsAwarded: number
  transactionId: string | null
  paidAt: Date
}

/**
 * `markPaid` for many PENDING orders locked by `lockOrdersStatement`, as one statement for the
 * payment batch, which must check that it changed `paid.length` rows. Orders whose redeemed
 * points a close gave back need `markPaid`, which takes them again.
 */
export function markPaidManyStatement(paid: Array<{ order: BatchOrder } & Payment>, now: Date): string {
  for (const { order } of paid) {
    step(order, 'PAID')
    if (order.redeemReturned > 0) throw new Error(`order ${order.id}: its redeemed points need markPaid`)
  }
  const byId = (value: (p: (typeof paid)[number]) => unknown) => ({
    text: `CASE id ${paid.map(() => 'WHEN ? THEN ?').join(' ')} END`,
    values: paid.flatMap((p) => [p.order.id, value(p)]),
  })
  const points = byId((p) => p.pointsAwarded)
  const transaction = byId((p) => p.transactionId)
  const paidAt = byId((p) => p.paidAt)
  return formatStatement(
    `UPDATE orders SET status = 'PAID', points_awarded = ${points.text}, redeem_returned = 0,
       transaction_id = ${transaction.text}, paid_at = ${paidAt.text}, updated_at = ?,
       shipping_status = 'PENDING', shipping_next_at = ?
     WHERE id IN (?)`,
    [...points.values, ...transaction.values, ...paidAt.values, now, now, paid.map((p) => p.order.id)],
  )
}

export async function markPaid(
  tx: Tx,
  order: OrderRow,
  paid: { pointsAwarded: number; transactionId: string | null; paidAt: Date; now: Date },
): Promise<void> {
  step(order, 'PAID')
  await retakeRedeemedPoints(tx, order, paid.now)
  // The shipping upload (API.md §12) is due from now; the upload job picks it up.
  await tx
    .update(orders)
    .set({
      status: 'PAID',
      pointsAwarded: paid.pointsAwarded,
      redeemReturned: 0,
      transactionId: paid.transactionId,
      paidAt: paid.paidAt,
      updatedAt: paid.now,
      shippingStatus: 'PENDING',
      shippingNextAt: paid.now,
    })
    .where(eq(orders.id, order.id))
}

/**
 * Closes an unpaid order and gives its redeemed points back; false (and nothing written) if it is
 * no longer PENDING. Returns the points given back.
 */
export async function closeUnpaid(tx: Tx, order: OrderRow, now: Date): Promise<number | false> {
  if (order.status !== 'PENDING') return false
  step(order, 'CLOSED')
  const back = order.redeemPoints - order.redeemReturned
  await returnRedeemedPoints(tx, order, back, `REDEEM_RETURN:${order.id}`, String(order.id), now)
  await tx
    .update(orders)
    .set({ status: 'CLOSED', redeemReturned: order.redeemPoints, updatedAt: now })
    .where(eq(orders.id, order.id))
  return back
}

/** What may still be refunded: what WeChat took, less what is refunded or being refunded. */
export const refundableFen = (o: Pick<OrderRow, 'payableFen' | 'refundedFen' | 'refundingFen'>) =>
  o.payableFen - o.refundedFen - o.refundingFen

/** Holds a refund's amount against the order, so concurrent refunds can never exceed what was paid. */
export async function holdRefund(tx: Tx, order: OrderRow, amountFen: number, now: Date): Promise<void> {
  if (!REFUNDABLE.includes(order.status)) {
    throw new AppError('INVALID_STATE', `an order that is ${order.status} cannot be refunded`, {
      status: order.status,
    })
  }
  const left = refundableFen(order)
  if (amountFen > left) {
    throw new AppError('REFUND_EXCEEDS_PAID', `at most ${left} fen can still be refunded`, {
      field: 'amountFen',
      refundableFen: left,
    })
  }
  await tx
    .update(orders)
    .set({ refundingFen: sql`${orders.refundingFen} + ${amountFen}`, updatedAt: now })
    .where(eq(orders.id, order.id))
}

function assertHeld(order: OrderRow, amountFen: number): void {
  if (amountFen > order.refundingFen || order.refundedFen + amountFen > order.payableFen)
    throw new Error(`order ${order.id}: a refund of ${amountFen} fen was never held against it`)
}

/** A refund that failed: its amount may be refunded again. */
export async function releaseRefund(tx: Tx, order: OrderRow, amountFen: number, now: Date): Promise<void> {
  assertHeld(order, amountFen)
  await tx
    .update(orders)
    .set({ refundingFen: order.refundingFen - amountFen, updatedAt: now })
    .where(eq(orders.id, order.id))
}

/**
 * A refund that succeeded: the held amount becomes refunded, the bounds checked again, the
 * order's claw-back total recorded and its share of the redeemed points given back. Returns the
 * points given back.
 */
export async function settleRefund(
  tx: Tx,
  order: OrderRow,
  refund: { id: number; amountFen: number; pointsClawedBackTotal: number; now: Date },
): Promise<number> {
  assertHeld(order, refund.amountFen)
  const refundedFen = order.refundedFen + refund.amountFen
  const status = refundedFen === order.payableFen ? 'REFUNDED' : 'PARTIALLY_REFUNDED'
  step(order, status)
  const returned = redeemReturnTotal(order.redeemPoints, refundedFen, order.payableFen)
  const back = returned - order.redeemReturned
  await returnRedeemedPoints(tx, order, back, `REDEEM_RETURN:R${refund.id}`, String(order.id), refund.now)
  await tx
    .update(orders)
    .set({
      refundedFen,
      refundingFen: order.refundingFen - refund.amountFen,
      pointsClawedBack: refund.pointsClawedBackTotal,
      redeemReturned: returned,
      status,
      updatedAt: refund.now,
    })
    .where(eq(orders.id, order.id))
  return back
}
