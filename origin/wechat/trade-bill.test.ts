import { describe, expect, it } from 'vitest'
import { BillParseError, parseTradeBill, sha1Hex, yuanToFen } from './trade-bill.ts'

const HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注'
const row = (fields: string[]) => fields.map((f) => `\`${f}`).join(',')
const pay = (no: string, yuan: string, goods = 'Tea') =>
  row([
    '2026-11-28 10:00:01',
    'wx1',
    '190',
    '0',
    '',
    '4200001',
    no,
    'o1',
    'JSAPI',
    'SUCCESS',
    'OTHERS',
    'CNY',
    yuan,
    '0.00',
    '0',
    '0',
    '0.00',
    '0.00',
    '',
    '',
    goods,
    '',
    '0.01',
    '0.60%',
    yuan,
    '0.00',
    '',
  ])
const refund = (no: string, refundNo: string, yuan: string) =>
  row([
    '2026-11-28 11:00:00',
    'wx1',
    '190',
    '0',
    '',
    '4200001',
    no,
    'o1',
    'JSAPI',
    'REFUND',
    'OTHERS',
    'CNY',
    '0.00',
    '0.00',
    '5001',
    refundNo,
    yuan,
    '0.00',
    'ORIGINAL',
    'SUCCESS',
    'Tea',
    '',
    '0.00',
    '0.60%',
    '0.00',
    yuan,
    '',
  ])
const TOTALS = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额'
const bill = (rows: string[], totals = row(['2', '12.35', '0.05', '0.00', '0.01', '12.35', '0.05'])) =>
  `${[HEADER, ...rows, TOTALS, totals].join('\r\n')}\r\n`

describe('trade bill parsing', () => {
  it('converts yuan to fen from the digits, never through floats', () => {
    expect(yuanToFen('0.01')).toBe(1)
    expect(yuanToFen('12.30')).toBe(1230)
    // 0.29 * 100 is 28.999999999999996 in floating point.
    expect(yuanToFen('0.29')).toBe(29)
    expect(yuanToFen('1234567890.99')).toBe(123456789099)
    for (const bad of ['1.5', '-1.00', '1,000.00', '1e3', '', '.50', '1.005', ' 1.00'])
      expect(yuanToFen(bad)).toBeNull()
  })

  it('reads the columns API.md names even without 公众账号ID, and totals by name', () => {
    const noAppid = (text: string) =>
      text
        .split('\r\n')
        .map((l, i) =>
          i === 0 ? l.replace('公众账号ID,', '') : l.startsWith('`2026') ? l.replace(',`wx1', '') : l,
        )
        .join('\r\n')
    const parsed = parseTradeBill(noAppid(bill([pay('PT1', '12.35'), refund('PT1', 'RF1', '0.05')])))
    expect(parsed.rows[0]).toMatchObject({ appid: '', outTradeNo: 'PT1', settlementFen: 1235 })
    expect(parsed.rows[1]).toMatchObject({ outRefundNo: 'RF1', refundFen: 5 })
  })

  it('parses backquoted payment and refund rows by header name, commas inside values included', () => {
    const parsed = parseTradeBill(bill([pay('PT1', '12.35', 'Tea, large'), refund('PT1', 'RF1', '0.05')]))
    expect(parsed.rows).toHaveLength(2)
    expect(parsed.rows[0]).toMatchObject({
      line: 2,
      outTradeNo: 'PT1',
      state: 'SUCCESS',
      settlementFen: 1235,
      subMchid: '0',
    })
    expect(parsed.rows[1]).toMatchObject({ line: 3, state: 'REFUND', outRefundNo: 'RF1', refundFen: 5 })
    expect(parsed.totals).toEqual({ count: 2, settlementFen: 1235, refundFen: 5 })
  })

  it('fails the whole bill with the line number of what does not parse', () => {
    const cases: Array<[string, number]> = [
      [bill([pay('PT1', '12.35'), pay('PT2', '12.3')]), 3],
      [bill([pay('PT1', '12.35'), 'not,backquoted']), 3],
      [bill([pay('PT1', '12.35').replace('SUCCESS', 'REVOKED')]), 2],
      [bill([pay('PT1', '12.35')], row(['x', '1.00', '0.00', '0.00', '0.00', '1.00', '0.00'])), 4],
      [[HEADER, pay('PT1', '1.00')].join('\n'), 3],
      [bill([pay('PT1', '12.35'), 'stray text', pay('PT2', '1.00')]), 3],
      [HEADER.replace('商户订单号', '订单'), 1],
    ]
    for (const [content, line] of cases) {
      let err: unknown
      try {
        parseTradeBill(content)
      } catch (e) {
        err = e
      }
      expect(err, content.slice(-60)).toBeInstanceOf(BillParseError)
      expect((err as BillParseError).line, content.slice(-60)).toBe(line)
    }
  })

  it('hashes the exact bytes', () => {
    expect(sha1Hex(Buffer.from('abc'))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d')
  })
})
