/**
 * The sandbox's in-memory WeChat Pay state (orders, refunds, what was delivered to the origin) and
 * the JSON views WeChat shows of it. Lost on restart, like any fixture.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { toBeijingRfc3339 } from '../origin/wechat/beijing-time.ts'

export type TradeState = 'NOTPAY' | 'SUCCESS' | 'REFUND' | 'CLOSED'
export type RefundStatus = 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL'

export interface DeliveryAttempt {
  at: string
  status?: number
  error?: string
}

/** One copy of one notification on its way to a notify_url, retried until a 2xx. */
export interface DeliveryRecord {
  notificationId: string
  eventType: string
  url: string
  copy: number
  delivered: boolean
  gaveUp: boolean
  attempts: DeliveryAttempt[]
}

export interface SandboxOrder {
  outTradeNo: string
  /** appid, or sp_appid for a partner order. */
  appid: string
  /** mchid, or sp_mchid for a partner order. */
  mchid: string
  /** Set for an order placed through the partner (服务商) API. */
  subMchid?: string
  description: string
  amountTotalFen: number
  payerOpenid: string
  notifyUrl: string
  timeExpire?: string
  attach?: string
  prepayId: string
  /** The first prepay body in canonical form: a re-issue must match it exactly. */
  fingerprint: string
  tradeState: TradeState
  transactionId?: string
  successTime?: string
  deliveries: DeliveryRecord[]
}

export interface SandboxRefund {
  outRefundNo: string
  /** The partner order's sub-merchant, when the refunded order is one. */
  subMchid?: string
  refundId: string
  outTradeNo: string
  transactionId: string
  refundFen: number
  totalFen: number
  reason?: string
  notifyUrl?: string
  status: RefundStatus
  createTime: string
  successTime?: string
  fingerprint: string
  deliveries: DeliveryRecord[]
}

function digits(count: number): string {
  let out = ''
  for (let i = 0; i < count; i++) out += String(randomInt(10))
  return out
}

export const newPrepayId = () => `wx${Date.now()}${randomBytes(12).toString('hex')}`.slice(0, 64)
export const newTransactionId = () => `4200${digits(24)}`
export const newRefundId = () => `50${digits(30)}`
export const nowRfc3339 = () => toBeijingRfc3339(new Date())

/** Key-order independent JSON, so "identical parameters" means identical content, not identical bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** One accepted upload_shipping_info call (小程序发货信息管理). */
export interface SandboxShipment {
  transactionId: string
  receivedAt: string
  body: Record<string, unknown>
}

/** One subscribe message WeChat accepted (subscribeMessage.send). */
export interface SandboxSubscribeMessage {
  receivedAt: string
  body: Record<string, unknown>
}

export class SandboxStore {
  readonly orders = new Map<string, SandboxOrder>()
  readonly refunds = new Map<string, SandboxRefund>()
  /** By transaction_id: WeChat takes one delivery report per payment. */
  readonly shipments = new Map<string, SandboxShipment>()
  readonly subscribeMessages: SandboxSubscribeMessage[] = []
  /** openids that have not subscribed: sending to them answers 43101. */
  readonly unsubscribed = new Set<string>()

  orderByTransactionId(transactionId: string): SandboxOrder | undefined {
    for (const order of this.orders.values()) if (order.transactionId === transactionId) return order
    return undefined
  }

  refundsOf(outTradeNo: string): SandboxRefund[] {
    return [...this.refunds.values()].filter((r) => r.outTradeNo === outTradeNo)
  }

  /** Refunded or still in flight: a CLOSED refund gives its amount back. */
  committedRefundFen(outTradeNo: string): number {
    return this.refundsOf(outTradeNo)
      .filter((r) => r.status !== 'CLOSED')
      .reduce((sum, r) => sum + r.refundFen, 0)
  }
}

const TRADE_STATE_DESC: Record<TradeState, string> = {
  NOTPAY: '订单未支付',
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  CLOSED: '订单已关闭',
}

/** The transaction as the query answers it and the TRANSACTION.SUCCESS resource carries it. */
export function transactionView(order: SandboxOrder): Record<string, unknown> {
  const paid = order.transactionId !== undefined
  const partner = order.subMchid !== undefined
  return {
    ...(partner
      ? { sp_appid: order.appid, sp_mchid: order.mchid, sub_mchid: order.subMchid }
      : { appid: order.appid, mchid: order.mchid }),
    out_trade_no: order.outTradeNo,
    ...(paid ? { transaction_id: order.transactionId } : {}),
    trade_type: 'JSAPI',
    trade_state: order.tradeState,
    trade_state_desc: TRADE_STATE_DESC[order.tradeState],
    ...(paid ? { bank_type: 'OTHERS', success_time: order.successTime } : {}),
    attach: order.attach ?? '',
    payer: partner ? { sp_openid: order.payerOpenid } : { openid: order.payerOpenid },
    amount: paid
      ? {
          total: order.amountTotalFen,
          payer_total: order.amountTotalFen,
          currency: 'CNY',
          payer_currency: 'CNY',
        }
      : { total: order.amountTotalFen, currency: 'CNY', payer_currency: 'CNY' },
  }
}

/** The refund as the create/query calls answer it. */
export function refundView(refund: SandboxRefund): Record<string, unknown> {
  return {
    ...(refund.subMchid === undefined ? {} : { sub_mchid: refund.subMchid }),
    refund_id: refund.refundId,
    out_refund_no: refund.outRefundNo,
    transaction_id: refund.transactionId,
    out_trade_no: refund.outTradeNo,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    ...(refund.successTime ? { success_time: refund.successTime } : {}),
    create_time: refund.createTime,
    status: refund.status,
    funds_account: 'AVAILABLE',
    amount: {
      total: refund.totalFen,
      refund: refund.refundFen,
      from: [],
      payer_total: refund.totalFen,
      payer_refund: refund.refundFen,
      settlement_refund: refund.refundFen,
      settlement_total: refund.totalFen,
      discount_refund: 0,
      currency: 'CNY',
    },
    promotion_detail: [],
  }
}

/** The decrypted resource of a REFUND.* notification (WECHAT.md §2.7). */
export function refundNotificationResource(refund: SandboxRefund, mchid: string): Record<string, unknown> {
  return {
    ...(refund.subMchid === undefined ? { mchid } : { sp_mchid: mchid, sub_mchid: refund.subMchid }),
    transaction_id: refund.transactionId,
    out_trade_no: refund.outTradeNo,
    refund_id: refund.refundId,
    out_refund_no: refund.outRefundNo,
    refund_status: refund.status,
    ...(refund.successTime ? { success_time: refund.successTime } : {}),
    user_received_account: '支付用户零钱',
    amount: {
      total: refund.totalFen,
      refund: refund.refundFen,
      payer_total: refund.totalFen,
      payer_refund: refund.refundFen,
    },
  }
}
