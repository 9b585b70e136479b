/**
 * Merchant refunds. A refund is recorded PROCESSING (its amount held against the order) before
 * WeChat is asked, with a fixed out_refund_no so every retry of the WeChat call is the same
 * refund. Its result — by notification, query or job — is applied once under the order's lock:
 * SUCCESS claws points back by the cumulative formula of API.md §3; CLOSED/ABNORMAL release the
 * held amount.
 */
import { randomBytes } from 'node:crypto'
import { and, eq, isNull, lt, or } from 'drizzle-orm'
import { orders, refunds } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import { runTx, type Tx } from '../db/client.ts'
import { WechatPayError } from '../wechat/errors.ts'
import type { PayRefund, RefundStatus } from '../wechat/pay-resources.ts'
import { recordAudit } from './audit.ts'
import { clawbackTotal } from './award-rule.ts'
import { createOnce, finishOnce, type IdempotencyScope, type StoredResponse } from './idempotency.ts'
import { merchantIssuance, transfer, userAccount } from './ledger.ts'
import { holdRefund, lockOrder, releaseRefund, settleRefund as settleOrderRefund } from './order-state.ts'
import type { PaymentDeps } from './payment-deps.ts'

export type RefundRow = typeof refunds.$inferSelect

export const refundView = (r: RefundRow) => ({
  id: String(r.id),
  orderId: String(r.orderId),
  outRefundNo: r.outRefundNo,
  amountFen: r.amountFen,
  reason: r.reason,
  status: r.status,
  pointsClawedBack: r.pointsClawedBack,
  createdAt: r.createdAt.toISOString(),
})

const acceptedView = (r: RefundRow) => ({
  id: String(r.id),
  outRefundNo: r.outRefundNo,
  status: r.status,
  amountFen: r.amountFen,
})

function newOutRefundNo(now: Date): string {
  return `RF${now.getTime().toString(36).toUpperCase()}${randomBytes(8).toString('hex').toUpperCase()}`
}

async function loadRefund(db: Tx | PaymentDeps['db']['primary'], refundId: number): Promise<RefundRow> {
  const [row] = await db.select().from(refunds).where(eq(refunds.id, refundId))
  if (!row) throw new Error(`refund ${refundId} vanished`)
  return row
}

async function insertRefund(
  tx: Tx,
  input: {
    ownerUserId: number
    merchantId: number
    orderId: number
    amountFen: number
    reason: string
    now: Date
  },
): Promise<number> {
  const order = await lockOrder(tx, { id: input.orderId })
  if (!order || order.merchantId !== input.merchantId) throw new AppError('NOT_FOUND', 'order not found')
  await holdRefund(tx, order, input.amountFen, input.now)
  const [res] = await tx.insert(refunds).values({
    outRefundNo: newOutRefundNo(input.now),
    orderId: order.id,
    merchantId: order.merchantId,
    amountFen: input.amountFen,
    reason: input.reason,
    status: 'PROCESSING',
    createdAt: input.now,
    updatedAt: input.now,
  })
  await recordAudit(
    tx,
    {
      actorUserId: input.ownerUserId,
      actorRole: 'merchant_owner',
      action: 'order.refund',
      targetType: 'order',
      targetId: order.id,
      details: { refundId: String(res.insertId), amountFen: input.amountFen, reason: input.reason },
    },
    input.now,
  )
  return res.insertId
}

/** Asks WeChat to refund. A definite refusal fails the refund; no answer leaves it PROCESSING for the job. */
async function submitRefund(deps: PaymentDeps, refund: RefundRow): Promise<void> {
  const [order] = await deps.db.primary.select().from(orders).where(eq(orders.id, refund.orderId))
  try {
    const answer = await deps.pay.createRefund({
      outTradeNo: order!.outTradeNo,
      outRefundNo: refund.outRefundNo,
      reason: refund.reason,
      refundFen: refund.amountFen,
      totalFen: order!.payableFen,
      notifyUrl: `${deps.config.PUBLIC_BASE_URL}/api/refund/callback`,
      subMchid: order!.subMchid ?? undefined,
    })
    await deps.db.primary
      .update(refunds)
      .set({ wechatRefundId: answer.refundId, updatedAt: new Date() })
      .where(eq(refunds.id, refund.id))
    if (answer.status !== 'PROCESSING') await applyRefundResult(deps, answer, 'answer')
  } catch (err) {
    if (err instanceof WechatPayError && !err.retryable) {
      deps.log.warn('WeChat refused a refund', { refundId: refund.id, code: err.code })
      await settleRefund(deps, refund.id, 'CLOSED')
      throw new AppError('PAYMENT_PROVIDER_ERROR', `WeChat Pay refused the refund: ${err.code}`, {
        provider: 'wechatpay',
        code: err.code,
      })
    }
    deps.log.warn('refund submission unanswered; the refund job will retry', {
      refundId: refund.id,
      error: (err as Error).message,
    })
  }
}

export async function createRefund(
  deps: PaymentDeps,
  input: {
    ownerUserId: number
    merchantId: number
    orderId: number
    amountFen: number
    reason: string
    idempotency?: IdempotencyScope
  },
): Promise<StoredResponse & { replayed: boolean }> {
  const now = input.idempotency?.now ?? new Date()
  const started = await createOnce(deps.db.primary, input.idempotency, (tx) =>
    insertRefund(tx, { ...input, now }),
  )
  if ('replay' in started) return { ...started.replay, replayed: true }
  const accepted = await loadRefund(deps.db.primary, started.resourceId)
  if (accepted.status === 'PROCESSING') {
    deps.metrics.refunds.inc({ status: 'PROCESSING' })
    await submitRefund(deps, accepted)
  }
  const refund = await loadRefund(deps.db.primary, started.resourceId)
  if (refund.status === 'FAILED')
    throw new AppError('PAYMENT_PROVIDER_ERROR', 'WeChat Pay refused this refund')
  const response = { status: 202, body: acceptedView(refund) }
  return finishOnce(deps.db.primary, input.idempotency, response)
}

type Settlement = 'SUCCESS' | 'CLOSED'

/** Applies a refund's final state exactly once: order row lock first, then the refund row. */
async function settleRefund(deps: PaymentDeps, refundId: number, result: Settlement): Promise<boolean> {
  const now = new Date()
  const settled = await runTx(deps.db.primary, async (tx) => {
    const [head] = await tx.select({ orderId: refunds.orderId }).from(refunds).where(eq(refunds.id, refundId))
    if (!head) return null
    const order = await lockOrder(tx, { id: head.orderId })
    const [refund] = await tx.select().from(refunds).where(eq(refunds.id, refundId)).for('update')
    if (!order || !refund || refund.status !== 'PROCESSING') return null
    if (result === 'CLOSED') {
      await releaseRefund(tx, order, refund.amountFen, now)
      await tx.update(refunds).set({ status: 'FAILED', updatedAt: now }).where(eq(refunds.id, refund.id))
      return { clawed: 0, returned: 0 }
    }
    const totalClawback = clawbackTotal(
      order.pointsAwarded,
      order.refundedFen + refund.amountFen,
      order.payableFen,
    )
    const delta = totalClawback - order.pointsClawedBack
    if (delta > 0) {
      const moved = await transfer(tx, {
        businessKey: `CLAWBACK:${refund.id}`,
        kind: 'REFUND_CLAWBACK',
        debit: userAccount(order.userId),
        credit: merchantIssuance(order.merchantId),
        points: delta,
        merchantId: order.merchantId,
        refId: String(refund.id),
        allowNegative: true,
        now,
      })
      if (!moved.applied) throw new Error(`refund ${refund.id}: clawed back twice while PROCESSING`)
    }
    const returned = await settleOrderRefund(tx, order, {
      id: refund.id,
      amountFen: refund.amountFen,
      pointsClawedBackTotal: totalClawback,
      now,
    })
    await tx
      .update(refunds)
      .set({ status: 'SUCCESS', pointsClawedBack: delta, updatedAt: now })
      .where(eq(refunds.id, refund.id))
    return { clawed: delta, returned }
  })
  if (!settled) return false
  deps.metrics.refunds.inc({ status: result === 'SUCCESS' ? 'SUCCESS' : 'FAILED' })
  if (settled.clawed > 0) deps.metrics.pointsMoved.inc({ kind: 'REFUND_CLAWBACK' }, settled.clawed)
  if (settled.returned > 0) deps.metrics.pointsMoved.inc({ kind: 'REDEEM_RETURN' }, settled.returned)
  return true
}

const FINAL: Partial<Record<RefundStatus, Settlement>> = {
  SUCCESS: 'SUCCESS',
  CLOSED: 'CLOSED',
  ABNORMAL: 'CLOSED',
}

/** WeChat's word on a refund, checked against our record (mchid, numbers, amounts) first. */
export async function applyRefundResult(
  deps: PaymentDeps,
  answer: PayRefund,
  source: 'notification' | 'query' | 'answer' | 'job',
): Promise<'applied' | 'unchanged' | 'rejected'> {
  const result = FINAL[answer.status]
  if (!result) return 'unchanged'
  const reject = (why: string) => {
    deps.log.error('refund result does not match its refund', {
      outRefundNo: answer.outRefundNo,
      source,
      why,
    })
    return 'rejected' as const
  }
  if (answer.mchid !== undefined && answer.mchid !== deps.config.WECHAT_MCHID) return reject('mchid')
  const [refund] = await deps.db.primary
    .select()
    .from(refunds)
    .where(eq(refunds.outRefundNo, answer.outRefundNo))
  if (!refund) return reject('no such refund')
  const [order] = await deps.db.primary.select().from(orders).where(eq(orders.id, refund.orderId))
  if (order?.outTradeNo !== answer.outTradeNo) return reject('out_trade_no')
  // A notification about a partner order must name sp_mchid and the order's sub-merchant; a query
  // answer (to our own signed request) may leave them out but must not name others.
  if (source === 'notification' && order.subMchid !== null) {
    if (answer.mchid === undefined || answer.subMchid !== order.subMchid) return reject('sub_mchid')
  }
  if (answer.subMchid !== undefined && answer.subMchid !== order.subMchid) return reject('sub_mchid')
  if (answer.refundFen !== refund.amountFen || answer.totalFen !== order.payableFen) return reject('amount')
  return (await settleRefund(deps, refund.id, result)) ? 'applied' : 'unchanged'
}

const REFUND_QUERY_AFTER_MS = 10_000
const REFUND_BATCH = 50

/** The job for refunds still PROCESSING: ask WeChat, apply a final answer, resubmit a lost one. */
export async function reconcileRefunds(deps: PaymentDeps, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - REFUND_QUERY_AFTER_MS)
  const due = await deps.db.primary
    .select()
    .from(refunds)
    .where(
      and(
        eq(refunds.status, 'PROCESSING'),
        lt(refunds.createdAt, cutoff),
        or(isNull(refunds.lastQueriedAt), lt(refunds.lastQueriedAt, cutoff)),
      ),
    )
    .limit(REFUND_BATCH)
  let settled = 0
  for (const refund of due) {
    const [claimed] = await deps.db.primary
      .update(refunds)
      .set({ lastQueriedAt: now })
      .where(
        and(
          eq(refunds.id, refund.id),
          eq(refunds.status, 'PROCESSING'),
          or(isNull(refunds.lastQueriedAt), lt(refunds.lastQueriedAt, cutoff)),
        ),
      )
    if (claimed.affectedRows !== 1) continue
    try {
      const [order] = await deps.db.primary
        .select({ subMchid: orders.subMchid })
        .from(orders)
        .where(eq(orders.id, refund.orderId))
      const answer = await deps.pay.queryRefund(refund.outRefundNo, order?.subMchid ?? undefined)
      if (answer === null) await submitRefund(deps, refund)
      else if ((await applyRefundResult(deps, answer, 'job')) === 'applied') settled++
    } catch (err) {
      deps.log.warn('refund reconciliation failed', { refundId: refund.id, error: (err as Error).message })
    }
  }
  return settled
}

export async function getRefundForMerchant(deps: PaymentDeps, merchantId: number, refundId: number) {
  const [row] = await deps.db.primary
    .select()
    .from(refunds)
    .where(and(eq(refunds.id, refundId), eq(refunds.merchantId, merchantId)))
  if (!row) throw new AppError('NOT_FOUND', 'refund not found')
  return refundView(row)
}
