/**
 * Scan-to-pay orders: creation with a WeChat prepay, and the one place where an order becomes
 * PAID and earns its points — whether WeChat told us by notification, by an active query, or by
 * the reconciliation job. Order state and the award commit in one transaction; the award's
 * business key (EARN:<orderId>) and the order's row lock make it exactly-once.
 */
import { randomBytes } from 'node:crypto'
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm'
import { merchants, orders, users } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import type { OriginConfig } from '../config.ts'
import { type Database, type Numeric, runTx, selectRows, type Tx, writeRows } from '../db/client.ts'
import type { Logger } from '../http/logger.ts'
import type { Metrics } from '../http/metrics.ts'
import { WechatPayError } from '../wechat/errors.ts'
import type { RequestPaymentParams, WechatPayClient } from '../wechat/pay-client.ts'
import type { PayTransaction } from '../wechat/pay-resources.ts'
import { capByDailyLimit, pointsForOrder, shanghaiDay } from './award-rule.ts'
import { createOnce, finishOnce, type IdempotencyScope, type StoredResponse } from './idempotency.ts'
import { merchantIssuance, transfer, userAccount } from './ledger.ts'
import { findMerchant } from './merchants.ts'
import type { OrderRow } from './order-queries.ts'
import { enqueuePointsEarned } from './outbox.ts'

export interface PaymentDeps {
  db: Database
  pay: WechatPayClient
  config: OriginConfig
  metrics: Metrics
  log: Logger
}

const ruleOfOrder = (
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
  input: { userId: number; merchantId: number; amountFen: number; now: Date },
): Promise<number> {
  const merchant = await findMerchant(tx, input.merchantId)
  if (!merchant) throw new AppError('NOT_FOUND', 'merchant not found', { field: 'merchantId' })
  if (merchant.status !== 'ACTIVE')
    throw new AppError('MERCHANT_NOT_ACTIVE', `merchant is ${merchant.status}`)
  const partner = deps.config.WECHAT_PAY_MODE === 'partner'
  // Partner mode pays the merchant's own sub-merchant account; without one there is nowhere to pay.
  if (partner && !merchant.subMchid)
    throw new AppError('MERCHANT_NOT_PAYABLE', 'merchant has no WeChat Pay sub-merchant account yet')
  const [res] = await tx.insert(orders).values({
    outTradeNo: newOutTradeNo(input.now),
    userId: input.userId,
    merchantId: merchant.id,
    amountFen: input.amountFen,
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
  return res.insertId
}

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
      amountFen: order.amountFen,
      payerOpenid: payer!.openid,
      notifyUrl: `${deps.config.PUBLIC_BASE_URL}/api/payment/callback`,
      timeExpire: order.expiresAt,
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
    expectedPoints: pointsForOrder(ruleOfOrder(o), o.amountFen),
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
  input: { userId: number; merchantId: number; amountFen: number; idempotency?: IdempotencyScope },
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
  return finishOnce(deps.db.primary, input.idempotency, response)
}

export type PaymentOutcome = 'paid' | 'already_paid' | 'rejected'

/** What applying a payment reads of its order, under the order's row lock. */
type PayableOrder = Pick<
  OrderRow,
  | 'id'
  | 'userId'
  | 'merchantId'
  | 'amountFen'
  | 'status'
  | 'ruleEarnPoints'
  | 'rulePerFen'
  | 'ruleMinOrderFen'
  | 'ruleMaxPointsPerOrder'
  | 'ruleDailyCapPerUser'
>

/** Numbers whatever the driver's big-number settings, as drizzle's column mapping would give them. */
function payableOrder(
  row: Record<Exclude<keyof PayableOrder, 'status'>, Numeric | null> & {
    status: PayableOrder['status']
  },
): PayableOrder {
  const orNull = (v: Numeric | null) => (v === null ? null : Number(v))
  return {
    id: Number(row.id),
    userId: Number(row.userId),
    merchantId: Number(row.merchantId),
    amountFen: Number(row.amountFen),
    status: row.status,
    ruleEarnPoints: Number(row.ruleEarnPoints),
    rulePerFen: Number(row.rulePerFen),
    ruleMinOrderFen: Number(row.ruleMinOrderFen),
    ruleMaxPointsPerOrder: orNull(row.ruleMaxPointsPerOrder),
    ruleDailyCapPerUser: orNull(row.ruleDailyCapPerUser),
  }
}

/** The award for a paid order: the snapshotted rule, then what today's cap still allows. */
async function awardFor(tx: Tx, order: PayableOrder, paidAt: Date): Promise<number> {
  const rule = ruleOfOrder(order)
  const points = pointsForOrder(rule, order.amountFen)
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

/**
 * Applies WeChat's word that an order is paid. Checked against the order before anything changes:
 * appid, mchid (sp_appid, sp_mchid in partner mode), the sub-merchant the order pays, amount and
 * currency must match. A paid answer wins over a local close, because the
 * shopper's money was taken.
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
  let awarded = 0
  const outcome = await runTx(
    deps.db.primary,
    async (tx): Promise<PaymentOutcome | 'amount' | 'unknown' | 'sub_mchid'> => {
      const [row] = await selectRows<Parameters<typeof payableOrder>[0] & { subMchid: string | null }>(
        tx,
        sql`SELECT id, sub_mchid AS subMchid, user_id AS userId, merchant_id AS merchantId, amount_fen AS amountFen, status,
                 rule_earn_points AS ruleEarnPoints, rule_per_fen AS rulePerFen,
                 rule_min_order_fen AS ruleMinOrderFen, rule_max_points_per_order AS ruleMaxPointsPerOrder,
                 rule_daily_cap_per_user AS ruleDailyCapPerUser
          FROM orders WHERE out_trade_no = ${txn.outTradeNo} FOR UPDATE`,
      )
      if (!row) return 'unknown'
      // A direct order must not be settled by a partner answer, nor one sub-merchant's by another's.
      if ((row.subMchid ?? undefined) !== txn.subMchid) return 'sub_mchid'
      const order = payableOrder(row)
      if (txn.amountTotalFen !== order.amountFen) return 'amount'
      if (order.status !== 'PENDING' && order.status !== 'CLOSED') return 'already_paid'
      const paidAt =
        txn.successTime && !Number.isNaN(Date.parse(txn.successTime)) ? new Date(txn.successTime) : new Date()
      const now = new Date()
      const award = await awardFor(tx, order, paidAt)
      awarded = award
      if (award > 0) {
        deps.metrics.pointsAwards.inc()
        const moved = await transfer(tx, {
          businessKey: `EARN:${order.id}`,
          kind: 'EARN',
          debit: merchantIssuance(order.merchantId),
          credit: userAccount(order.userId),
          points: award,
          merchantId: order.merchantId,
          refId: String(order.id),
          now,
        })
        if (!moved.applied) throw new Error(`order ${order.id}: awarded twice while PENDING`)
        const [shop] = await tx
          .select({ name: merchants.name })
          .from(merchants)
          .where(eq(merchants.id, order.merchantId))
        await enqueuePointsEarned(tx, deps.config.WECHAT_TEMPLATE_POINTS_EARNED, {
          orderId: order.id,
          userId: order.userId,
          merchantName: shop?.name ?? '',
          points: award,
          at: now,
        })
      }
      await writeRows(
        tx,
        // The shipping upload (API.md §12) is due from now; the upload job picks it up.
        sql`UPDATE orders SET status = 'PAID', points_awarded = ${award},
            transaction_id = ${txn.transactionId ?? null}, paid_at = ${paidAt}, updated_at = ${now},
            shipping_status = 'PENDING', shipping_next_at = ${now}
          WHERE id = ${order.id}`,
      )
      return 'paid'
    },
  )
  if (outcome === 'unknown') return mismatch('no such order')
  if (outcome === 'amount') return mismatch('amount')
  if (outcome === 'sub_mchid') return mismatch('sub_mchid')
  if (outcome === 'paid') {
    deps.metrics.paymentSuccess.inc()
    deps.metrics.orders.inc({ status: 'PAID' })
    if (awarded > 0) {
      deps.metrics.pointsAwardSuccess.inc()
      deps.metrics.pointsMoved.inc({ kind: 'EARN' }, awarded)
    }
  }
  return outcome
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
 */
export async function reconcilePendingOrders(deps: PaymentDeps, now: Date): Promise<number> {
  const due = await deps.db.primary
    .select({ id: orders.id })
    .from(orders)
    .where(
      and(
        eq(orders.status, 'PENDING'),
        lt(orders.createdAt, new Date(now.getTime() - RECONCILE_AFTER_MS)),
        or(
          isNull(orders.lastQueriedAt),
          lt(orders.lastQueriedAt, new Date(now.getTime() - RECONCILE_AFTER_MS)),
        ),
      ),
    )
    .limit(RECONCILE_BATCH)
  let settled = 0
  for (const { id } of due) {
    if (!(await claimQuery(deps, id, now, RECONCILE_AFTER_MS))) continue
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
  const [res] = await deps.db.primary
    .update(orders)
    .set({ status: 'CLOSED', updatedAt: now })
    .where(and(eq(orders.id, order.id), eq(orders.status, 'PENDING')))
  if (res.affectedRows === 1) deps.metrics.orders.inc({ status: 'CLOSED' })
  return res.affectedRows === 1
}
