/**
 * The transaction and refund objects WeChat Pay returns from queries and sends (encrypted) in
 * notifications, validated and renamed into the project's camelCase + units convention. Unknown
 * fields are dropped because WeChat adds fields without notice (WECHAT.md §2.0).
 */
import { z } from 'zod'

const tradeStateSchema = z.enum([
  'SUCCESS',
  'REFUND',
  'NOTPAY',
  'CLOSED',
  'REVOKED',
  'USERPAYING',
  'PAYERROR',
])
const refundStatusSchema = z.enum(['SUCCESS', 'CLOSED', 'PROCESSING', 'ABNORMAL'])
const fen = z.number().int().nonnegative()

const transactionSchema = z.object({
  appid: z.string(),
  mchid: z.string(),
  out_trade_no: z.string(),
  transaction_id: z.string().optional(),
  trade_state: tradeStateSchema,
  trade_state_desc: z.string().optional(),
  attach: z.string().optional(),
  success_time: z.string().optional(),
  payer: z.object({ openid: z.string().optional() }).optional(),
  amount: z
    .object({ total: fen.optional(), payer_total: fen.optional(), currency: z.string().optional() })
    .optional(),
})

const refundSchema = z.object({
  mchid: z.string().optional(),
  refund_id: z.string(),
  out_refund_no: z.string(),
  out_trade_no: z.string(),
  transaction_id: z.string(),
  // Queries answer `status`, notifications `refund_status`: the same field under two names.
  status: refundStatusSchema.optional(),
  refund_status: refundStatusSchema.optional(),
  success_time: z.string().optional(),
  create_time: z.string().optional(),
  user_received_account: z.string().optional(),
  amount: z.object({ total: fen, refund: fen, payer_total: fen.optional(), payer_refund: fen.optional() }),
})

export type TradeState = z.infer<typeof tradeStateSchema>
export type RefundStatus = z.infer<typeof refundStatusSchema>

export interface PayTransaction {
  appid: string
  mchid: string
  outTradeNo: string
  tradeState: TradeState
  tradeStateDesc?: string
  transactionId?: string
  amountTotalFen?: number
  payerTotalFen?: number
  currency?: string
  payerOpenid?: string
  successTime?: string
  attach?: string
}

export interface PayRefund {
  mchid?: string
  refundId: string
  outRefundNo: string
  outTradeNo: string
  transactionId: string
  status: RefundStatus
  refundFen: number
  totalFen: number
  payerRefundFen?: number
  successTime?: string
  createTime?: string
  userReceivedAccount?: string
}

export class ResourceShapeError extends Error {
  constructor(what: string, issues: string) {
    super(`unexpected ${what} shape: ${issues}`)
    this.name = 'ResourceShapeError'
  }
}

export function toTransaction(raw: unknown): PayTransaction {
  const parsed = transactionSchema.safeParse(raw)
  if (!parsed.success) throw new ResourceShapeError('transaction', parsed.error.message)
  const t = parsed.data
  return {
    appid: t.appid,
    mchid: t.mchid,
    outTradeNo: t.out_trade_no,
    tradeState: t.trade_state,
    tradeStateDesc: t.trade_state_desc,
    transactionId: t.transaction_id,
    amountTotalFen: t.amount?.total,
    payerTotalFen: t.amount?.payer_total,
    currency: t.amount?.currency,
    payerOpenid: t.payer?.openid,
    successTime: t.success_time,
    attach: t.attach,
  }
}

export function toRefund(raw: unknown): PayRefund {
  const parsed = refundSchema.safeParse(raw)
  const status = parsed.data?.status ?? parsed.data?.refund_status
  if (!parsed.success || !status) throw new ResourceShapeError('refund', parsed.error?.message ?? 'no status')
  const r = parsed.data
  return {
    mchid: r.mchid,
    refundId: r.refund_id,
    outRefundNo: r.out_refund_no,
    outTradeNo: r.out_trade_no,
    transactionId: r.transaction_id,
    status,
    refundFen: r.amount.refund,
    totalFen: r.amount.total,
    payerRefundFen: r.amount.payer_refund,
    successTime: r.success_time,
    createTime: r.create_time,
    userReceivedAccount: r.user_received_account,
  }
}
