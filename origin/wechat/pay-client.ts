/**
 * The origin's WeChat Pay v3 client (JSAPI): the calls the order and refund flows need plus
 * notification parsing. A call that names a sub-merchant goes to the partner (服务商) endpoint with
 * the partner fields (API.md §11); without one it is the direct-merchant call. It only knows a base URL, so it cannot tell WeChat from the local
 * sandbox.
 */
import { toBeijingRfc3339 } from './beijing-time.ts'
import { WechatPayError } from './errors.ts'
import { paySign, randomAlphanumeric } from './pay-crypto.ts'
import { createPayHttp, type PayHttpOptions } from './pay-http.ts'
import { type HeaderSource, type PayNotification, parsePayNotification } from './pay-notification.ts'
import { type PayRefund, type PayTransaction, toRefund, toTransaction } from './pay-resources.ts'

export interface WechatPayConfig {
  baseUrl: string
  /** The merchant's mchid, or the service provider's sp_mchid in partner mode. */
  mchid: string
  /** The mini-program AppID bound to the mchid (sp_appid in partner mode). */
  appid: string
  /** Merchant API certificate serial (40 hex), named in Authorization. */
  serialNo: string
  privateKeyPem: string
  payPublicKeyPem: string
  payPublicKeyId: string
  apiv3Key: string
}

export interface PrepayInput {
  outTradeNo: string
  description: string
  amountFen: number
  payerOpenid: string
  notifyUrl: string
  /** Must be the same on every re-issue of one order: WeChat treats other parameters as a new order. */
  timeExpire: Date
  attach?: string
  /** Partner mode: the sub-merchant paid. */
  subMchid?: string
}

export interface RequestPaymentParams {
  appId: string
  timeStamp: string
  nonceStr: string
  package: string
  signType: 'RSA'
  paySign: string
}

export interface RefundInput {
  outTradeNo: string
  outRefundNo: string
  reason: string
  refundFen: number
  totalFen: number
  notifyUrl: string
  subMchid?: string
}

export interface TradeBillInfo {
  hashType: string
  hashValue: string
  downloadUrl: string
}

export interface WechatPayClient {
  prepay(input: PrepayInput): Promise<{ prepayId: string }>
  /** What the mini-program passes to wx.requestPayment (WECHAT.md §2.3). */
  requestPaymentParams(prepayId: string): RequestPaymentParams
  /** null when WeChat has no such order (ORDER_NOT_EXIST). */
  queryByOutTradeNo(outTradeNo: string, subMchid?: string): Promise<PayTransaction | null>
  closeOrder(outTradeNo: string, subMchid?: string): Promise<void>
  createRefund(input: RefundInput): Promise<PayRefund>
  /** null when WeChat has no such refund (RESOURCE_NOT_EXISTS). */
  queryRefund(outRefundNo: string, subMchid?: string): Promise<PayRefund | null>
  /** GET /v3/bill/tradebill for one day (all sub-merchants in partner mode). */
  tradeBill(billDate: string): Promise<TradeBillInfo>
  /** The signed GET of a bill's download_url; the raw file bytes. */
  downloadBill(downloadUrl: string): Promise<Buffer>
  /** Verifies and decrypts; throws WechatNotificationError with a reason otherwise. */
  parseNotification(headers: HeaderSource, rawBody: string, nowSeconds?: number): PayNotification
}

function badAnswer(what: string, err: unknown): WechatPayError {
  return new WechatPayError({
    httpStatus: 200,
    code: 'BAD_RESPONSE',
    message: `unexpected ${what} answer: ${err instanceof Error ? err.message : String(err)}`,
    retryable: false,
  })
}

function parseAnswer<T>(what: string, body: string, convert: (raw: unknown) => T): T {
  try {
    return convert(JSON.parse(body))
  } catch (err) {
    throw badAnswer(what, err)
  }
}

// Only a verified 404 with a not-found code: a 404 for MCH_NOT_EXISTS is a configuration error.
const NOT_FOUND_CODES = new Set(['ORDER_NOT_EXIST', 'ORDERNOTEXIST', 'RESOURCE_NOT_EXISTS', 'NOT_FOUND'])

function isNotFound(err: unknown): boolean {
  return (
    err instanceof WechatPayError && err.httpStatus === 404 && NOT_FOUND_CODES.has(err.code.toUpperCase())
  )
}

export function createWechatPayClient(cfg: WechatPayConfig, opts: PayHttpOptions = {}): WechatPayClient {
  const send = createPayHttp(
    {
      baseUrl: cfg.baseUrl,
      mchid: cfg.mchid,
      serialNo: cfg.serialNo,
      privateKeyPem: cfg.privateKeyPem,
      payPublicKeyPem: cfg.payPublicKeyPem,
      payPublicKeyId: cfg.payPublicKeyId,
    },
    opts,
  )
  const mchidQuery = `mchid=${encodeURIComponent(cfg.mchid)}`
  const notificationKeys = {
    publicKeyPem: cfg.payPublicKeyPem,
    publicKeyId: cfg.payPublicKeyId,
    apiv3Key: cfg.apiv3Key,
  }

  return {
    async prepay(input) {
      const common = {
        description: input.description,
        out_trade_no: input.outTradeNo,
        time_expire: toBeijingRfc3339(input.timeExpire),
      }
      const amount = { total: input.amountFen, currency: 'CNY' }
      const res =
        input.subMchid === undefined
          ? await send('POST', '/v3/pay/transactions/jsapi', {
              appid: cfg.appid,
              mchid: cfg.mchid,
              ...common,
              ...(input.attach === undefined ? {} : { attach: input.attach }),
              notify_url: input.notifyUrl,
              amount,
              payer: { openid: input.payerOpenid },
            })
          : await send('POST', '/v3/pay/partner/transactions/jsapi', {
              sp_appid: cfg.appid,
              sp_mchid: cfg.mchid,
              sub_mchid: input.subMchid,
              ...common,
              notify_url: input.notifyUrl,
              amount,
              payer: { sp_openid: input.payerOpenid },
            })
      return parseAnswer('prepay', res.body, (raw) => {
        const prepayId = (raw as { prepay_id?: unknown }).prepay_id
        if (typeof prepayId !== 'string' || !prepayId) throw new Error('no prepay_id')
        return { prepayId }
      })
    },

    requestPaymentParams(prepayId) {
      const timeStamp = String(Math.floor(Date.now() / 1000))
      const nonceStr = randomAlphanumeric(32)
      const pkg = `prepay_id=${prepayId}`
      return {
        appId: cfg.appid,
        timeStamp,
        nonceStr,
        package: pkg,
        signType: 'RSA',
        paySign: paySign({ appId: cfg.appid, timeStamp, nonceStr, pkg }, cfg.privateKeyPem),
      }
    },

    async queryByOutTradeNo(outTradeNo, subMchid) {
      const no = encodeURIComponent(outTradeNo)
      const path =
        subMchid === undefined
          ? `/v3/pay/transactions/out-trade-no/${no}?${mchidQuery}`
          : `/v3/pay/partner/transactions/out-trade-no/${no}?sp_mchid=${encodeURIComponent(cfg.mchid)}&sub_mchid=${encodeURIComponent(subMchid)}`
      try {
        const res = await send('GET', path)
        return parseAnswer('query', res.body, toTransaction)
      } catch (err) {
        if (isNotFound(err)) return null
        throw err
      }
    },

    async closeOrder(outTradeNo, subMchid) {
      const no = encodeURIComponent(outTradeNo)
      if (subMchid === undefined) {
        await send('POST', `/v3/pay/transactions/out-trade-no/${no}/close`, { mchid: cfg.mchid })
      } else {
        await send('POST', `/v3/pay/partner/transactions/out-trade-no/${no}/close`, {
          sp_mchid: cfg.mchid,
          sub_mchid: subMchid,
        })
      }
    },

    async createRefund(input) {
      const res = await send('POST', '/v3/refund/domestic/refunds', {
        ...(input.subMchid === undefined ? {} : { sub_mchid: input.subMchid }),
        out_trade_no: input.outTradeNo,
        out_refund_no: input.outRefundNo,
        reason: input.reason,
        notify_url: input.notifyUrl,
        amount: { refund: input.refundFen, total: input.totalFen, currency: 'CNY' },
      })
      return parseAnswer('refund', res.body, toRefund)
    },

    async queryRefund(outRefundNo, subMchid) {
      const query = subMchid === undefined ? '' : `?sub_mchid=${encodeURIComponent(subMchid)}`
      try {
        const res = await send(
          'GET',
          `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}${query}`,
        )
        return parseAnswer('refund query', res.body, toRefund)
      } catch (err) {
        if (isNotFound(err)) return null
        throw err
      }
    },

    async tradeBill(billDate) {
      const res = await send(
        'GET',
        `/v3/bill/tradebill?bill_date=${encodeURIComponent(billDate)}&bill_type=ALL`,
      )
      return parseAnswer('tradebill', res.body, (raw) => {
        const r = raw as { hash_type?: unknown; hash_value?: unknown; download_url?: unknown }
        if (
          typeof r.hash_type !== 'string' ||
          typeof r.hash_value !== 'string' ||
          typeof r.download_url !== 'string'
        )
          throw new Error('no hash_type/hash_value/download_url')
        return { hashType: r.hash_type, hashValue: r.hash_value, downloadUrl: r.download_url }
      })
    },

    async downloadBill(downloadUrl) {
      // Only the path and query are taken: the file is fetched from the configured WeChat Pay host,
      // never from a host named in an answer.
      const url = new URL(downloadUrl)
      const res = await send('GET', url.pathname + url.search, undefined, { unsignedSuccess: true })
      return res.bytes
    },

    parseNotification(headers, rawBody, nowSeconds) {
      return parsePayNotification(headers, rawBody, notificationKeys, nowSeconds)
    },
  }
}
