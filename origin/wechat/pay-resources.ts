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

// Direct merchants get appid/mchid and payer.openid; partner (服务商) answers name the service
// provider as sp_appid/sp_mchid, the paid merchant as sub_mchid and the payer as payer.sp_openid.
const transactionSchema = z.object({
  appid: z.string().optional(),
  mchid: z.string().optional(),
  sp_appid: z.string().optional(),
  sp_mchid: z.string().optional(),
  sub_mchid: z.string().optional(),
  out_trade_no: z.string(),
  transaction_id: z.string().optional(),
  trade_state: tradeStateSchema,
  trade_state_desc: z.string().optional(),
  attach: z.string().optional(),
  success_time: z.string().optional(),
  payer: z.object({ openid: z.string().optional(), sp_openid: z.string().optional() }).optional(),
  amount: z
    .object({ total: fen.optional(), payer_total: fen.optional(), currency: z.string().optional() })
    .optional(),
})

const refundSchema = z.object({
  mchid: z.string().optional(),
  sp_mchid: z.string().optional(),
  sub_mchid: z.string().optional(),
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
  /** appid, or sp_appid in partner mode. */
  appid: string
  /** mchid, or sp_mchid in partner mode. */
  mchid: string
  /** The paid sub-merchant; present only in partner answers. */
  subMchid?: string
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
  /** mchid, or sp_mchid in partner mode. */
  mchid?: string
  subMchid?: string
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
  const partner = t.sub_mchid !== undefined
  const appid = partner ? t.sp_appid : t.appid
  const mchid = partner ? t.sp_mchid : t.mchid
  if (appid === undefined || mchid === undefined) {
    throw new ResourceShapeError('transaction', partner ? 'no sp_appid/sp_mchid' : 'no appid/mchid')
  }
  return {
    appid,
    mchid,
    subMchid: t.sub_mchid,
    outTradeNo: t.out_trade_no,
    tradeState: t.trade_state,
    tradeStateDesc: t.trade_state_desc,
    transactionId: t.transaction_id,
    amountTotalFen: t.amount?.total,
    payerTotalFen: t.amount?.payer_total,
    currency: t.amount?.currency,
    payerOpenid: partner ? t.payer?.sp_openid : t.payer?.openid,
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
    mchid: r.sub_mchid !== undefined ? r.sp_mchid : r.mchid,
    subMchid: r.sub_mchid,
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
