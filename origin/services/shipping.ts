/**
 * Shipping information (API.md §12): WeChat freezes a mini-program's takings until each paid order's
 * delivery is reported. Every order becomes due when it is PAID; this job uploads it once
 * (logistics_type 4, 用户自提: the shopper paid in the shop), retries what WeChat did not answer
 * with backoff, and keeps WeChat's errmsg when it refuses for good.
 */
import { and, eq, lte, sql } from 'drizzle-orm'
import { merchants, orders, users } from '../../db/schema.ts'
import { type Database, type Numeric, selectRows } from '../db/client.ts'
import { retryDelayMs } from '../jobs/backoff.ts'
import type { Logger } from '../obs/logger.ts'
import type { ServiceMetrics } from '../obs/metrics.ts'
import { toBeijingRfc3339 } from '../wechat/beijing-time.ts'
import { WechatApiError } from '../wechat/errors.ts'
import type { WechatMiniClient } from '../wechat/mini-client.ts'

export interface ShippingDeps {
  db: Database
  mini: WechatMiniClient
  metrics: ServiceMetrics
  log: Logger
  config: { JOB_INTERVAL_MS: number }
}

export const UPLOAD_SHIPPING_PATH = '/wxa/sec/order/upload_shipping_info'
/** WeChat's "this payment's delivery was already reported": the goal is reached. */
const ALREADY_UPLOADED = 10060002
const BATCH = 50
/** How long a claimed upload stays with the instance that claimed it before another may retry. */
const CLAIM_MS = 60_000
const OVERDUE_AFTER_MS = 10 * 60_000
const MAX_ERRMSG = 255

function retryable(err: unknown): boolean {
  if (!(err instanceof WechatApiError)) return true
  return err.kind === 'UNAVAILABLE' || err.kind === 'BAD_RESPONSE' || err.errcode === -1
}

function itemDesc(merchantName: string): string {
  return Array.from(`${merchantName || 'Purchase'} 到店消费`)
    .slice(0, 120)
    .join('')
}

async function uploadOne(deps: ShippingDeps, orderId: number, now: Date): Promise<boolean> {
  const [row] = await deps.db.primary
    .select({
      transactionId: orders.transactionId,
      attempts: orders.shippingAttempts,
      openid: users.openid,
      merchantName: merchants.name,
    })
    .from(orders)
    .innerJoin(users, eq(users.id, orders.userId))
    .innerJoin(merchants, eq(merchants.id, orders.merchantId))
    .where(eq(orders.id, orderId))
  if (!row) return false
  const finish = async (set: Partial<typeof orders.$inferInsert>) => {
    await deps.db.primary
      .update(orders)
      .set(set)
      .where(and(eq(orders.id, orderId), eq(orders.shippingStatus, 'PENDING')))
  }
  if (!row.transactionId) {
    await finish({ shippingStatus: 'FAILED', shippingError: 'no transaction_id recorded for the payment' })
    deps.metrics.shippingUploads.inc({ outcome: 'failed' })
    return false
  }
  try {
    await deps.mini.postWithToken(UPLOAD_SHIPPING_PATH, {
      order_key: { order_number_type: 2, transaction_id: row.transactionId },
      logistics_type: 4,
      delivery_mode: 1,
      shipping_list: [{ item_desc: itemDesc(row.merchantName) }],
      upload_time: toBeijingRfc3339(now),
      payer: { openid: row.openid },
    })
  } catch (err) {
    if (err instanceof WechatApiError && err.errcode === ALREADY_UPLOADED) {
      await finish({ shippingStatus: 'UPLOADED', shippingAttempts: row.attempts + 1, shippingError: null })
      deps.metrics.shippingUploads.inc({ outcome: 'uploaded' })
      return true
    }
    const message = (err as Error).message.slice(0, MAX_ERRMSG)
    if (retryable(err)) {
      const attempts = row.attempts + 1
      // Counted from the failure, not the job run's start: the wait is never shorter than the backoff.
      const nextAt = new Date(Date.now() + retryDelayMs(attempts, deps.config.JOB_INTERVAL_MS))
      await finish({ shippingAttempts: attempts, shippingNextAt: nextAt, shippingError: message })
      deps.metrics.shippingUploads.inc({ outcome: 'retry' })
      deps.log.warn('shipping upload will be retried', { orderId, attempts, error: message })
      return false
    }
    await finish({ shippingStatus: 'FAILED', shippingAttempts: row.attempts + 1, shippingError: message })
    deps.metrics.shippingUploads.inc({ outcome: 'failed' })
    deps.log.error('WeChat refused the shipping upload', { orderId, error: message })
    return false
  }
  await finish({ shippingStatus: 'UPLOADED', shippingAttempts: row.attempts + 1, shippingError: null })
  deps.metrics.shippingUploads.inc({ outcome: 'uploaded' })
  return true
}

/** The job: uploads due orders, each claimed first so two instances never upload one together. */
export async function uploadDueShipping(deps: ShippingDeps, now: Date): Promise<number> {
  const due = await deps.db.primary
    .select({ id: orders.id })
    .from(orders)
    .where(and(eq(orders.shippingStatus, 'PENDING'), lte(orders.shippingNextAt, now)))
    .orderBy(orders.shippingNextAt)
    .limit(BATCH)
  let uploaded = 0
  for (const { id } of due) {
    const [claim] = await deps.db.primary
      .update(orders)
      .set({ shippingNextAt: new Date(now.getTime() + CLAIM_MS) })
      .where(and(eq(orders.id, id), eq(orders.shippingStatus, 'PENDING'), lte(orders.shippingNextAt, now)))
    if (claim.affectedRows !== 1) continue
    if (await uploadOne(deps, id, now)) uploaded++
  }
  await refreshShippingGauges(deps, now)
  return uploaded
}

/** The gauges operators alert on, recounted on every job run. */
async function refreshShippingGauges(deps: ShippingDeps, now: Date): Promise<void> {
  const [counts] = await selectRows<{ failed: Numeric | null; overdue: Numeric | null }>(
    deps.db.primary,
    sql`SELECT SUM(shipping_status = 'FAILED') AS failed,
               SUM(shipping_status = 'PENDING' AND paid_at < ${new Date(now.getTime() - OVERDUE_AFTER_MS)}) AS overdue
        FROM orders WHERE shipping_status IN ('PENDING', 'FAILED')`,
  )
  deps.metrics.shippingFailedOrders.set(Number(counts?.failed ?? 0))
  deps.metrics.shippingOverdueOrders.set(Number(counts?.overdue ?? 0))
}
