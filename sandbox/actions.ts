/**
 * The state changes that WeChat makes on its own (the user pays, the bank finishes a refund) and
 * the notifications they cause. Called by the control routes and by refund auto-completion.
 */
import type { SandboxContext } from './context.ts'
import { buildNotificationBody } from './notifications.ts'
import {
  type DeliveryRecord,
  newTransactionId,
  nowRfc3339,
  type RefundStatus,
  refundNotificationResource,
  type SandboxOrder,
  type SandboxRefund,
  transactionView,
} from './store.ts'

export interface DeliveryOptions {
  /** false = a lost notification: the state changes, the origin is never told. */
  deliver?: boolean
  /** Copies of the same notification (same id) sent concurrently. */
  duplicates?: number
}

export const MAX_DUPLICATES = 50

async function notify(
  ctx: SandboxContext,
  url: string | undefined,
  eventType: string,
  resource: Record<string, unknown>,
  into: DeliveryRecord[],
  opts: DeliveryOptions,
): Promise<string | null> {
  if (opts.deliver === false || !url) return null
  const body = buildNotificationBody({ eventType, resource }, ctx.identity.apiv3Key)
  const notificationId = (JSON.parse(body) as { id: string }).id
  const copies = Math.min(Math.max(opts.duplicates ?? 1, 1), MAX_DUPLICATES)
  const records = Array.from({ length: copies }, (_, copy) => {
    const record: DeliveryRecord = {
      notificationId,
      eventType,
      url,
      copy,
      delivered: false,
      gaveUp: false,
      attempts: [],
    }
    into.push(record)
    return record
  })
  await Promise.all(records.map((record) => ctx.deliverer.deliver(url, body, record)))
  return notificationId
}

/** NOTPAY → SUCCESS, then TRANSACTION.SUCCESS. Paying a paid order only notifies again. */
export async function payOrder(ctx: SandboxContext, order: SandboxOrder, opts: DeliveryOptions) {
  if (order.tradeState === 'NOTPAY') {
    order.tradeState = 'SUCCESS'
    order.transactionId = newTransactionId()
    order.successTime = nowRfc3339()
  }
  // The notification always describes the payment, even if a refund has started since.
  const resource = { ...transactionView(order), trade_state: 'SUCCESS', trade_state_desc: '支付成功' }
  return notify(ctx, order.notifyUrl, 'TRANSACTION.SUCCESS', resource, order.deliveries, opts)
}

/** PROCESSING → SUCCESS | CLOSED | ABNORMAL, then REFUND.<status>. */
export async function completeRefund(
  ctx: SandboxContext,
  refund: SandboxRefund,
  status: Exclude<RefundStatus, 'PROCESSING'>,
  opts: DeliveryOptions,
) {
  refund.status = status
  if (status === 'SUCCESS') refund.successTime = nowRfc3339()
  const resource = refundNotificationResource(refund, ctx.identity.mchid)
  return notify(ctx, refund.notifyUrl, `REFUND.${status}`, resource, refund.deliveries, opts)
}
