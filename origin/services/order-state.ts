/**
 * An order's life: which status may follow which, and the only functions that change an order's
 * status or money columns (the shipping job owns the shipping columns, prepay and query claims
 * their own). Each writer takes the caller's transaction with the order row locked by
 * `lockOrder`, checks the transition and the amounts again under that lock, and returns what it
 * did: callers count and log only after the commit, so a transaction retried after a deadlock
 * never reports twice.
 */
import { eq, inArray, sql } from 'drizzle-orm'
import { orders } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import { type Tx, writeRows } from '../db/client.ts'
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

/** Locks several orders by out_trade_no, in index order, so concurrent batches never deadlock on them. */
export async function lockOrders(tx: Tx, outTradeNos: string[]): Promise<OrderRow[]> {
  if (outTradeNos.length === 0) return []
  return tx
    .select()
    .from(orders)
    .where(inArray(orders.outTradeNo, outTradeNos))
    .orderBy(orders.outTradeNo)
    .for('update')
}

export interface Payment {
  pointsAwarded: number
  transactionId: string | null
  paidAt: Date
}

/**
 * `markPaid` for many PENDING orders in one statement (the payment batch). Orders whose redeemed
 * points were given back by a close need `markPaid`, which takes them again.
 */
export async function markPaidMany(
  tx: Tx,
  paid: Array<{ order: OrderRow } & Payment>,
  now: Date,
): Promise<void> {
  if (paid.length === 0) return
  for (const { order } of paid) {
    step(order, 'PAID')
    if (order.redeemReturned > 0) throw new Error(`order ${order.id}: its redeemed points need markPaid`)
  }
  const byId = (value: (p: (typeof paid)[number]) => unknown) =>
    sql`CASE id ${sql.join(
      paid.map((p) => sql`WHEN ${p.order.id} THEN ${value(p)}`),
      sql` `,
    )} END`
  const res = await writeRows(
    tx,
    sql`UPDATE orders SET status = 'PAID', points_awarded = ${byId((p) => p.pointsAwarded)},
          redeem_returned = 0, transaction_id = ${byId((p) => p.transactionId)},
          paid_at = ${byId((p) => p.paidAt)}, updated_at = ${now},
          shipping_status = 'PENDING', shipping_next_at = ${now}
        WHERE id IN (${sql.join(
          paid.map((p) => sql`${p.order.id}`),
          sql`, `,
        )})`,
  )
  if (res.affectedRows !== paid.length) throw new Error(`markPaidMany: ${res.affectedRows} of ${paid.length}`)
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
