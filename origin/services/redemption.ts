/**
 * Paying part of an order with points (API.md §14). The points leave the shopper for the
 * merchant's account in the transaction that creates the order (REDEEM) and come back — all of
 * them when the order closes unpaid, pro rata as it is refunded (REDEEM_RETURN). Every movement
 * has a business key derived from the order or refund, so a retried transaction moves nothing twice.
 */
import { sql } from 'drizzle-orm'
import { AppError } from '../../shared/errors.ts'
import type { Rule } from '../../shared/schemas.ts'
import { selectRows, type Tx } from '../db/client.ts'
import { merchantIssuance, PLATFORM, transfer, userAccount } from './ledger.ts'
import type { OrderRow } from './order-queries.ts'
import { isClosedAccount } from './users.ts'

export interface Redemption {
  redeemPoints: number
  discountFen: number
  payableFen: number
}

/** The discount for `redeemPoints` under the merchant's rule, or 422 REDEEM_NOT_ALLOWED. */
export function redemptionFor(
  rule: Pick<Rule, 'redeemFenPerPoint' | 'redeemMaxPercent'>,
  amountFen: number,
  redeemPoints: number | undefined,
): Redemption {
  if (!redeemPoints) return { redeemPoints: 0, discountFen: 0, payableFen: amountFen }
  const refuse = (why: string): never => {
    throw new AppError('REDEEM_NOT_ALLOWED', why, { field: 'redeemPoints' })
  }
  if (rule.redeemFenPerPoint === null) return refuse('this merchant does not take points')
  // BigInt: points (≤1e9) × fen per point (≤1e9) can pass 2^53.
  const discount = BigInt(redeemPoints) * BigInt(rule.redeemFenPerPoint)
  const maxDiscount = BigInt(Math.floor((amountFen * rule.redeemMaxPercent) / 100))
  if (discount > maxDiscount)
    return refuse(`points may pay at most ${rule.redeemMaxPercent}% (${maxDiscount} fen) of this order`)
  if (discount > BigInt(amountFen - 1)) return refuse('at least 1 fen must be left to pay')
  const discountFen = Number(discount)
  return { redeemPoints, discountFen, payableFen: amountFen - discountFen }
}

/** The cumulative return after refunds: floor(redeemPoints × refundedFen / payableFen). */
export function redeemReturnTotal(redeemPoints: number, refundedFen: number, payableFen: number): number {
  return Number((BigInt(redeemPoints) * BigInt(refundedFen)) / BigInt(payableFen))
}

const redeemKey = (orderId: number) => `REDEEM:${orderId}`
/** The second debit of an order paid after its close gave the points back. */
const redeemAgainKey = (orderId: number) => `REDEEM:${orderId}:PAID`

type Redeemed = Pick<OrderRow, 'id' | 'userId' | 'merchantId' | 'redeemPoints'>

async function debit(tx: Tx, order: Redeemed, businessKey: string, allowNegative: boolean, now: Date) {
  const moved = await transfer(tx, {
    businessKey,
    kind: 'REDEEM',
    debit: userAccount(order.userId),
    credit: merchantIssuance(order.merchantId),
    points: order.redeemPoints,
    merchantId: order.merchantId,
    refId: String(order.id),
    allowNegative,
    now,
  })
  if (!moved.applied) throw new Error(`order ${order.id}: points redeemed twice (${businessKey})`)
}

/** Takes the points at creation, after the order row is written; 422 INSUFFICIENT_POINTS if short. */
export async function holdRedeemedPoints(tx: Tx, order: Redeemed, now: Date): Promise<void> {
  if (order.redeemPoints > 0) await debit(tx, order, redeemKey(order.id), false, now)
}

/**
 * A payment that arrives after the close gave the points back: the shopper paid the discounted
 * amount, so the points are taken again, even below zero (like a claw-back).
 */
export async function retakeRedeemedPoints(
  tx: Tx,
  order: Redeemed & Pick<OrderRow, 'redeemReturned'>,
  now: Date,
): Promise<void> {
  if (order.redeemReturned > 0) await debit(tx, order, redeemAgainKey(order.id), true, now)
}

/** Gives back `points` of the order's redemption, restoring the lots its debit took. */
export async function returnRedeemedPoints(
  tx: Tx,
  order: Redeemed,
  points: number,
  businessKey: string,
  refId: string,
  now: Date,
): Promise<void> {
  if (points <= 0) return
  // Before the account's lock, as every credit does: a closed account cannot take points back.
  const closed = await isClosedAccount(tx, order.userId)
  const [again] = await selectRows<{ id: number }>(
    tx,
    sql`SELECT id FROM transfers WHERE business_key = ${redeemAgainKey(order.id)}`,
  )
  const moved = await transfer(tx, {
    businessKey,
    kind: 'REDEEM_RETURN',
    debit: merchantIssuance(order.merchantId),
    credit: userAccount(order.userId),
    points,
    merchantId: order.merchantId,
    refId,
    lotsFrom: again ? redeemAgainKey(order.id) : redeemKey(order.id),
    now,
  })
  if (!moved.applied) throw new Error(`order ${order.id}: points returned twice (${businessKey})`)
  // A refund after the shopper deleted the account: what comes back is forfeited like the rest of
  // the balance was (only what is above a debt the closed account still carries).
  const forfeit = Math.min(points, moved.userBalances.get(order.userId) ?? 0)
  if (closed && forfeit > 0) {
    await transfer(tx, {
      businessKey: `ACCOUNT_CLOSED:${businessKey}`,
      kind: 'ACCOUNT_CLOSED',
      debit: userAccount(order.userId),
      credit: PLATFORM,
      points: forfeit,
      refId: String(order.userId),
      now,
    })
  }
}
