/**
 * WeChat Pay's trade bill (交易账单, API.md §13): a header row, one row per payment or refund with
 * every field prefixed by a backquote, then a totals header and a totals row. Amounts are yuan with
 * two decimals and are converted to fen from their digits, never through floating point. Anything
 * that does not parse fails the whole bill with its line number: a half-read bill must not be
 * reconciled.
 */
import { createHash } from 'node:crypto'

export interface BillPayment {
  line: number
  tradeTime: string
  /** '' when the bill has no 公众账号ID column. */
  appid: string
  mchid: string
  /** Empty (or `0`) outside partner mode. */
  subMchid: string
  transactionId: string
  outTradeNo: string
  state: 'SUCCESS' | 'REFUND'
  settlementFen: number
  refundId: string
  outRefundNo: string
  refundFen: number
  refundStatus: string
}

export interface TradeBill {
  rows: BillPayment[]
  /** As the totals row states them; null for a column the bill does not have. */
  totals: { count: number | null; settlementFen: number | null; refundFen: number | null }
}

export class BillParseError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`)
    this.name = 'BillParseError'
  }
}

const COLUMNS = {
  tradeTime: '交易时间',
  mchid: '商户号',
  subMchid: '特约商户号',
  transactionId: '微信订单号',
  outTradeNo: '商户订单号',
  state: '交易状态',
  settlement: '应结订单金额',
  refundId: '微信退款单号',
  outRefundNo: '商户退款单号',
  refund: '退款金额',
  refundStatus: '退款状态',
} as const
/** Read when present; API.md §13 does not promise it. */
const APPID_COLUMN = '公众账号ID'
const TOTALS_HEADER = '总交易单数'
const TRADE_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/

export function sha1Hex(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex')
}

/** "12.30" → 1230. Only digits, a dot and exactly two decimals; an optional leading minus is refused. */
export function yuanToFen(text: string): number | null {
  const m = /^(\d{1,13})\.(\d{2})$/.exec(text)
  if (!m) return null
  return Number(m[1]) * 100 + Number(m[2])
}

/** Data fields are "`value" joined by commas; splitting before each backquote keeps commas inside values. */
function dataFields(text: string): string[] | null {
  if (!text.startsWith('`')) return null
  return text
    .slice(1)
    .split(',`')
    .map((f) => f.trim())
}

export function parseTradeBill(content: string): TradeBill {
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/)
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop()
  if (lines.length === 0) throw new BillParseError(1, 'the bill is empty')
  const header = lines[0]!.split(',').map((h) => h.trim())
  const index = {} as Record<keyof typeof COLUMNS, number>
  for (const [key, name] of Object.entries(COLUMNS) as Array<[keyof typeof COLUMNS, string]>) {
    const at = header.indexOf(name)
    if (at < 0) throw new BillParseError(1, `the header has no ${name} column`)
    index[key] = at
  }
  const appidAt = header.indexOf(APPID_COLUMN)
  const rows: BillPayment[] = []
  // The file ends with the totals header and the totals row; everything between is data rows.
  const totalsAt = lines.length - 2
  if (totalsAt < 1)
    throw new BillParseError(lines.length + 1, 'no totals header and totals row after the rows')
  if (lines[totalsAt]!.startsWith('`')) throw new BillParseError(totalsAt + 1, 'expected the totals header')
  for (let lineNo = 1; lineNo < totalsAt; lineNo++) {
    const text = lines[lineNo]!
    const line = lineNo + 1
    const fields = dataFields(text)
    if (!fields || fields.length !== header.length) {
      throw new BillParseError(line, `expected ${header.length} backquoted fields`)
    }
    const get = (key: keyof typeof COLUMNS) => fields[index[key]]!
    const state = get('state')
    if (state !== 'SUCCESS' && state !== 'REFUND')
      throw new BillParseError(line, `交易状态 "${state}" is unknown`)
    if (!TRADE_TIME.test(get('tradeTime')))
      throw new BillParseError(line, '交易时间 is not yyyy-MM-dd HH:mm:ss')
    if (!get('outTradeNo')) throw new BillParseError(line, '商户订单号 is empty')
    const settlementFen = yuanToFen(get('settlement'))
    if (settlementFen === null) throw new BillParseError(line, '应结订单金额 is not an amount in yuan')
    let refundFen = 0
    if (state === 'REFUND') {
      const fen = yuanToFen(get('refund'))
      if (fen === null) throw new BillParseError(line, '退款金额 is not an amount in yuan')
      if (!get('outRefundNo')) throw new BillParseError(line, '商户退款单号 is empty')
      refundFen = fen
    }
    rows.push({
      line,
      tradeTime: get('tradeTime'),
      appid: appidAt < 0 ? '' : fields[appidAt]!,
      mchid: get('mchid'),
      subMchid: get('subMchid'),
      transactionId: get('transactionId'),
      outTradeNo: get('outTradeNo'),
      state,
      settlementFen,
      refundId: get('refundId'),
      outRefundNo: get('outRefundNo'),
      refundFen,
      refundStatus: get('refundStatus'),
    })
  }
  const totalsHeader = lines[totalsAt]!.split(',').map((h) => h.trim())
  const totalsLine = totalsAt + 2
  const totals = dataFields(lines[totalsAt + 1]!)
  if (!totals || totals.length !== totalsHeader.length) {
    throw new BillParseError(totalsLine, 'the totals row does not match its header')
  }
  const amounts = totals.map((t) => (/^\d+$/.test(t) ? Number(t) : yuanToFen(t)))
  if (amounts.some((a) => a === null)) throw new BillParseError(totalsLine, 'the totals row does not parse')
  const total = (name: string) => {
    const at = totalsHeader.indexOf(name)
    return at < 0 ? null : amounts[at]!
  }
  return {
    rows,
    totals: {
      count: total(TOTALS_HEADER),
      settlementFen: total('应结订单总金额'),
      refundFen: total('退款总金额'),
    },
  }
}
