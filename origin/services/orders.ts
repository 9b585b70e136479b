/**
 * Scan-to-pay orders: creation with a WeChat prepay, the payer's view that asks WeChat about a
 * late payment, and the job that settles or closes orders whose notification never came.
 */
import { randomBytes } from 'node:crypto'
import { and, eq, isNull, lt, lte, or } from 'drizzle-orm'
import { orders, users } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import { runTx, type Tx } from '../db/client.ts'
import { WechatPayError } from '../wechat/errors.ts'
import type { RequestPaymentParams } from '../wechat/pay-client.ts'
import type { PayTransaction } from '../wechat/pay-resources.ts'
import { pointsForOrder } from './award-rule.ts'
import { createOnce, finishOnce, type IdempotencyScope, type StoredResponse } from './idempotency.ts'
import { findMerchant } from './merchants.ts'
import { applyPayment, ruleOfOrder } from './order-payment.ts'
import type { OrderRow } from './order-queries.ts'
import { closeUnpaid, lockOrder } from './order-state.ts'
import type { PaymentDeps } from './payment-deps.ts'
import { holdRedeemedPoints, redemptionFor } from './redemption.ts'
import { lockActingUser } from './users.ts'

/** 6..32 of [A-Za-z0-9_-] (WECHAT.md §2.2); time-ordered, so WeChat's bills sort sensibly. */
function newOutTradeNo(now: Date): string {
  return `PT${now.getTime().toString(36).toUpperCase()}${randomBytes(8).toString('hex').toUpperCase()}`
}

/** WeChat accepts only 1–3 byte UTF-8 characters in the bill description. */
function billDescription(merchantName: string): string {
  return (
    Array.from(merchantName.replace(/[\u{10000}-\u{10FFFF}]/gu, ''))
      .slice(0, 100)
      .join('') || 'Purchase'
  )
}

function providerError(err: unknown): never {
  if (err instanceof WechatPayError) {
    throw new AppError('PAYMENT_PROVIDER_ERROR', `WeChat Pay refused or did not answer: ${err.code}`, {
      provider: 'wechatpay',
      code: err.code,
      retryable: err.retryable,
    })
  }
  throw err
}

async function insertOrder(
  tx: Tx,
  deps: PaymentDeps,
  input: { userId: number; merchantId: number; amountFen: number; redeemPoints?: number; now: Date },
): Promise<number> {
  // Before anything else: an account deleted meanwhile takes no order (see accounts.ts's locking).
  await lockActingUser(tx, input.userId)
  const merchant = await findMerchant(tx, input.merchantId)
  if (!merchant) throw new AppError('NOT_FOUND', 'merchant not found', { field: 'merchantId' })
  if (merchant.status !== 'ACTIVE')
    throw new AppError('MERCHANT_NOT_ACTIVE', `merchant is ${merchant.status}`)
  const partner = deps.config.WECHAT_PAY_MODE === 'partner'
  // Partner mode pays the merchant's own sub-merchant account; without one there is nowhere to pay.
  if (partner && !merchant.subMchid)
    throw new AppError('MERCHANT_NOT_PAYABLE', 'merchant has no WeChat Pay sub-merchant account yet')
  const redemption = redemptionFor(merchant, input.amountFen, input.redeemPoints)
  const [res] = await tx.insert(orders).values({
    outTradeNo: newOutTradeNo(input.now),
    userId: input.userId,
    merchantId: merchant.id,
    amountFen: input.amountFen,
    ...redemption,
    status: 'PENDING',
    ruleEarnPoints: merchant.earnPoints,
    rulePerFen: merchant.perFen,
    ruleMinOrderFen: merchant.minOrderFen,
    ruleMaxPointsPerOrder: merchant.maxPointsPerOrder,
    ruleDailyCapPerUser: merchant.dailyCapPerUser,
    subMchid: partner ? merchant.subMchid : null,
    expiresAt: new Date(input.now.getTime() + deps.config.ORDER_TTL_SECONDS * 1000),
    createdAt: input.now,
    updatedAt: input.now,
  })
  const order = { id: res.insertId, userId: input.userId, merchantId: merchant.id }
  await holdRedeemedPoints(tx, { ...order, redeemPoints: redemption.redeemPoints }, input.now)
  return res.insertId
}

/** WeChat refuses a time_expire less than a minute ahead; two after creation leaves room for a retry. */
const MIN_PREPAY_WINDOW_MS = 2 * 60_000

/** Prepay is idempotent at WeChat for identical parameters, so a retry may call it again safely. */
async function ensurePrepay(deps: PaymentDeps, order: OrderRow): Promise<string> {
  if (order.prepayId) return order.prepayId
  const [merchant, [payer]] = await Promise.all([
    findMerchant(deps.db.primary, order.merchantId),
    deps.db.primary.select({ openid: users.openid }).from(users).where(eq(users.id, order.userId)),
  ])
  const { prepayId } = await deps.pay
    .prepay({
      outTradeNo: order.outTradeNo,
      description: billDescription(merchant?.name ?? ''),
      amountFen: order.payableFen,
      payerOpenid: payer!.openid,
      notifyUrl: `${deps.config.PUBLIC_BASE_URL}/api/payment/callback`,
      // WeChat may keep the order open longer than we do: the close job closes it there first.
      timeExpire: new Date(
        Math.max(order.expiresAt.getTime(), order.createdAt.getTime() + MIN_PREPAY_WINDOW_MS),
      ),
      attach: String(order.id),
      subMchid: order.subMchid ?? undefined,
    })
    .catch(providerError)
  await deps.db.primary
    .update(orders)
    .set({ prepayId, updatedAt: new Date() })
    .where(and(eq(orders.id, order.id), isNull(orders.prepayId)))
  return prepayId
}

export function createdOrderView(o: OrderRow, payParams: RequestPaymentParams) {
  return {
    id: String(o.id),
    outTradeNo: o.outTradeNo,
    status: 'PENDING' as const,
    merchantId: String(o.merchantId),
    amountFen: o.amountFen,
    redeemPoints: o.redeemPoints,
    discountFen: o.discountFen,
    payableFen: o.payableFen,
    expectedPoints: pointsForOrder(ruleOfOrder(o), o.payableFen),
    expiresAt: o.expiresAt.toISOString(),
    payParams,
  }
}

async function loadOrder(deps: PaymentDeps, orderId: number): Promise<OrderRow> {
  const [order] = await deps.db.primary.select().from(orders).where(eq(orders.id, orderId))
  if (!order) throw new Error(`order ${orderId} vanished`)
  return order
}

/**
 * POST /api/orders. The order row (and the idempotency key, when given) commit before WeChat is
 * called; the answer is recorded after. A retry that finds the key pending finishes the same
 * order instead of creating another, so a crash between the two never yields two orders.
 */
export async function createOrder(
  deps: PaymentDeps,
  input: {
    userId: number
    merchantId: number
    amountFen: number
    redeemPoints?: number
    idempotency?: IdempotencyScope
  },
): Promise<StoredResponse & { replayed: boolean }> {
  const now = input.idempotency?.now ?? new Date()
  const started = await createOnce(deps.db.primary, input.idempotency, (tx) =>
    insertOrder(tx, deps, { ...input, now }),
  )
  if ('replay' in started) return { ...started.replay, replayed: true }
  let order = await loadOrder(deps, started.resourceId)
  if (order.status !== 'PENDING') {
    throw new AppError('INVALID_STATE', `order ${order.id} is already ${order.status}`)
  }
  const prepayId = await ensurePrepay(deps, order)
  order = { ...order, prepayId }
  const response = { status: 201, body: createdOrderView(order, deps.pay.requestPaymentParams(prepayId)) }
  deps.metrics.orders.inc({ status: 'PENDING' })
  if (order.redeemPoints > 0) deps.metrics.pointsMoved.inc({ kind: 'REDEEM' }, order.redeemPoints)
  return finishOnce(deps.db.primary, input.idempotency, response)
}

const ACTIVE_QUERY_AFTER_MS = 5000

/**
 * GET /api/orders/:id for its payer. A PENDING order older than 5 s is checked with WeChat, at most
 * once per 5 s per order across all instances (a conditional update claims the query), exactly as
 * the reconciliation job would: a payment is applied, an expired order is closed.
 */
export async function getOrderForPayer(
  deps: PaymentDeps,
  userId: number,
  orderId: number,
): Promise<OrderRow> {
  const [order] = await deps.db.primary
    .select()
    .from(orders)
    .where(and(eq(orders.id, orderId), eq(orders.userId, userId)))
  if (!order) throw new AppError('NOT_FOUND', 'order not found')
  const now = new Date()
  if (order.status !== 'PENDING' || now.getTime() - order.createdAt.getTime() < ACTIVE_QUERY_AFTER_MS)
    return order
  if (!(await claimQuery(deps, order.id, now, ACTIVE_QUERY_AFTER_MS))) return order
  try {
    if (await reconcileOne(deps, order, now)) return loadOrder(deps, order.id)
  } catch (err) {
    deps.log.warn('active order query failed', { orderId: order.id, error: (err as Error).message })
  }
  return order
}

/** Claims the right to ask WeChat about an order now; false if someone asked within `everyMs`. */
async function claimQuery(deps: PaymentDeps, orderId: number, now: Date, everyMs: number): Promise<boolean> {
  const [res] = await deps.db.primary
    .update(orders)
    .set({ lastQueriedAt: now })
    .where(
      and(
        eq(orders.id, orderId),
        eq(orders.status, 'PENDING'),
        or(isNull(orders.lastQueriedAt), lt(orders.lastQueriedAt, new Date(now.getTime() - everyMs))),
      ),
    )
  return res.affectedRows === 1
}

const RECONCILE_AFTER_MS = 30_000
const RECONCILE_BATCH = 50

/**
 * The job for orders whose notification is late or lost: ask WeChat; apply a payment; close an
 * expired unpaid order at WeChat first and then locally (so it cannot be paid after we close it).
 * An expired order is taken at the next run (API.md §14: closed within 2 × JOB_INTERVAL_MS), not
 * after the 30 s a live order waits between queries.
 */
export async function reconcilePendingOrders(deps: PaymentDeps, now: Date): Promise<number> {
  const expiredEveryMs = Math.min(RECONCILE_AFTER_MS, Math.ceil(deps.config.JOB_INTERVAL_MS / 2))
  const queriedBefore = (ms: number) =>
    or(isNull(orders.lastQueriedAt), lt(orders.lastQueriedAt, new Date(now.getTime() - ms)))
  const due = await deps.db.primary
    .select({ id: orders.id, expiresAt: orders.expiresAt })
    .from(orders)
    .where(
      and(
        eq(orders.status, 'PENDING'),
        or(
          and(
            lt(orders.createdAt, new Date(now.getTime() - RECONCILE_AFTER_MS)),
            queriedBefore(RECONCILE_AFTER_MS),
          ),
          and(lte(orders.expiresAt, now), queriedBefore(expiredEveryMs)),
        ),
      ),
    )
    .orderBy(orders.expiresAt)
    .limit(RECONCILE_BATCH)
  let settled = 0
  for (const { id, expiresAt } of due) {
    const everyMs = expiresAt.getTime() <= now.getTime() ? expiredEveryMs : RECONCILE_AFTER_MS
    if (!(await claimQuery(deps, id, now, everyMs))) continue
    const order = await loadOrder(deps, id)
    try {
      if (await reconcileOne(deps, order, now)) settled++
    } catch (err) {
      deps.log.warn('order reconciliation failed', { orderId: id, error: (err as Error).message })
    }
  }
  return settled
}

async function reconcileOne(deps: PaymentDeps, order: OrderRow, now: Date): Promise<boolean> {
  const subMchid = order.subMchid ?? undefined
  const txn = await deps.pay.queryByOutTradeNo(order.outTradeNo, subMchid)
  if (txn?.tradeState === 'SUCCESS') return (await applyPayment(deps, txn, 'job')) === 'paid'
  if (order.expiresAt.getTime() > now.getTime()) return false
  return closeAtWechatThenLocally(deps, order, txn, now)
}

/**
 * Closes a PENDING order now, whatever its expiry (account deletion, API.md §14): asks WeChat
 * first, so a payment that already happened is applied rather than lost, and closes at WeChat
 * before locally, so the order cannot be paid after.
 */
export async function closeUnpaidOrder(deps: PaymentDeps, order: OrderRow, now: Date): Promise<void> {
  const subMchid = order.subMchid ?? undefined
  const txn = await deps.pay.queryByOutTradeNo(order.outTradeNo, subMchid)
  if (txn?.tradeState === 'SUCCESS') {
    await applyPayment(deps, txn, 'job')
    return
  }
  await closeAtWechatThenLocally(deps, order, txn, now)
}

async function closeAtWechatThenLocally(
  deps: PaymentDeps,
  order: OrderRow,
  txn: PayTransaction | null,
  now: Date,
): Promise<boolean> {
  const subMchid = order.subMchid ?? undefined
  if (txn) {
    try {
      await deps.pay.closeOrder(order.outTradeNo, subMchid)
    } catch (err) {
      // Paid between our query and the close: the next query applies it.
      const again = await deps.pay.queryByOutTradeNo(order.outTradeNo, subMchid)
      if (again?.tradeState === 'SUCCESS') return (await applyPayment(deps, again, 'job')) === 'paid'
      throw err
    }
  }
  const closed = await runTx(deps.db.primary, async (tx) => {
    const locked = await lockOrder(tx, { id: order.id })
    return locked ? closeUnpaid(tx, locked, now) : false
  })
  if (closed === false) return false
  deps.metrics.orders.inc({ status: 'CLOSED' })
  if (closed > 0) deps.metrics.pointsMoved.inc({ kind: 'REDEEM_RETURN' }, closed)
  return true
}
