/**
 * The trade bill (交易账单) the sandbox serves for a day, built from its own records in WeChat's
 * CSV layout: a header row, one backquoted row per payment (交易状态 SUCCESS) and per successful
 * refund (REFUND), a totals header and a totals row; amounts in yuan with two decimals. Tests may
 * add rows WeChat has and the origin does not, drop rows, append raw lines, or break the hash.
 */
import { z } from 'zod'
import type { SandboxIdentity } from './identity.ts'
import type { SandboxStore } from './store.ts'

const HEADER = [
  '交易时间',
  '公众账号ID',
  '商户号',
  '特约商户号',
  '设备号',
  '微信订单号',
  '商户订单号',
  '用户标识',
  '交易类型',
  '交易状态',
  '付款银行',
  '货币种类',
  '应结订单金额',
  '代金券金额',
  '微信退款单号',
  '商户退款单号',
  '退款金额',
  '充值券退款金额',
  '退款类型',
  '退款状态',
  '商品名称',
  '商户数据包',
  '手续费',
  '费率',
  '订单金额',
  '申请退款金额',
  '费率备注',
]
const TOTALS_HEADER = [
  '总交易单数',
  '应结订单总金额',
  '退款总金额',
  '充值券退款总金额',
  '手续费总金额',
  '订单总金额',
  '申请退款总金额',
]

export const billTamperingSchema = z.object({
  /** Payments WeChat has and the origin may not: each becomes a SUCCESS row. */
  extraRows: z
    .array(
      z.object({
        outTradeNo: z.string().min(1),
        amountFen: z.number().int().min(0),
        transactionId: z.string().optional(),
        subMchid: z.string().optional(),
        tradeTime: z.string().optional(),
      }),
    )
    .default([]),
  /** Rows (by 商户订单号) left out of the bill. */
  omitOutTradeNos: z.array(z.string()).default([]),
  /** Lines appended after the data rows, before the totals (e.g. one that does not parse). */
  rawLines: z.array(z.string()).default([]),
  /** Answer a hash_value that is not the file's SHA-1. */
  wrongHash: z.boolean().default(false),
})
export type BillTampering = z.infer<typeof billTamperingSchema>

const yuan = (fen: number) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`
const row = (fields: string[]) => fields.map((f) => `\`${f}`).join(',')
const billTime = (rfc3339: string) => rfc3339.slice(0, 19).replace('T', ' ')
const fee = (fen: number) => Math.round((fen * 6) / 1000)

export function buildTradeBill(
  store: SandboxStore,
  identity: SandboxIdentity,
  date: string,
  tampering?: BillTampering,
): Buffer {
  const omit = new Set(tampering?.omitOutTradeNos ?? [])
  const lines = [HEADER.join(',')]
  let count = 0
  let settled = 0
  let refunded = 0
  let fees = 0
  const payment = (p: {
    time: string
    subMchid?: string
    transactionId: string
    outTradeNo: string
    openid: string
    amountFen: number
    description: string
    attach: string
  }) => {
    count++
    settled += p.amountFen
    fees += fee(p.amountFen)
    lines.push(
      row([
        p.time,
        identity.appid,
        identity.mchid,
        p.subMchid ?? '0',
        '',
        p.transactionId,
        p.outTradeNo,
        p.openid,
        'JSAPI',
        'SUCCESS',
        'OTHERS',
        'CNY',
        yuan(p.amountFen),
        '0.00',
        '0',
        '0',
        '0.00',
        '0.00',
        '',
        '',
        p.description,
        p.attach,
        yuan(fee(p.amountFen)),
        '0.60%',
        yuan(p.amountFen),
        '0.00',
        '',
      ]),
    )
  }
  for (const o of store.orders.values()) {
    if (!o.successTime?.startsWith(date) || !o.transactionId || omit.has(o.outTradeNo)) continue
    payment({
      time: billTime(o.successTime),
      subMchid: o.subMchid,
      transactionId: o.transactionId,
      outTradeNo: o.outTradeNo,
      openid: o.payerOpenid,
      amountFen: o.amountTotalFen,
      description: o.description,
      attach: o.attach ?? '',
    })
  }
  for (const extra of tampering?.extraRows ?? []) {
    payment({
      time: extra.tradeTime ?? `${date} 12:00:00`,
      subMchid: extra.subMchid,
      transactionId: extra.transactionId ?? `4200${Date.now()}${count}`.padEnd(28, '0'),
      outTradeNo: extra.outTradeNo,
      openid: 'o-sandbox-extra',
      amountFen: extra.amountFen,
      description: 'extra row',
      attach: '',
    })
  }
  for (const r of store.refunds.values()) {
    if (r.status !== 'SUCCESS' || !r.successTime?.startsWith(date) || omit.has(r.outTradeNo)) continue
    const order = store.orders.get(r.outTradeNo)
    count++
    refunded += r.refundFen
    lines.push(
      row([
        billTime(r.successTime),
        identity.appid,
        identity.mchid,
        r.subMchid ?? '0',
        '',
        r.transactionId,
        r.outTradeNo,
        order?.payerOpenid ?? '',
        'JSAPI',
        'REFUND',
        'OTHERS',
        'CNY',
        '0.00',
        '0.00',
        r.refundId,
        r.outRefundNo,
        yuan(r.refundFen),
        '0.00',
        'ORIGINAL',
        'SUCCESS',
        order?.description ?? '',
        order?.attach ?? '',
        '0.00',
        '0.60%',
        '0.00',
        yuan(r.refundFen),
        '',
      ]),
    )
  }
  lines.push(...(tampering?.rawLines ?? []))
  lines.push(TOTALS_HEADER.join(','))
  lines.push(
    row([String(count), yuan(settled), yuan(refunded), '0.00', yuan(fees), yuan(settled), yuan(refunded)]),
  )
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8')
}
