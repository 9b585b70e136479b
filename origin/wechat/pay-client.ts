/**
 * The origin's WeChat Pay v3 client (JSAPI, direct merchant): the calls the order and refund flows
 * need plus notification parsing. It only knows a base URL, so it cannot tell WeChat from the local
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
  mchid: string
  /** The mini-program AppID bound to the mchid. */
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
}

export interface WechatPayClient {
  prepay(input: PrepayInput): Promise<{ prepayId: string }>
  /** What the mini-program passes to wx.requestPayment (WECHAT.md §2.3). */
  requestPaymentParams(prepayId: string): RequestPaymentParams
  /** null when WeChat has no such order (ORDER_NOT_EXIST). */
  queryByOutTradeNo(outTradeNo: string): Promise<PayTransaction | null>
  closeOrder(outTradeNo: string): Promise<void>
  createRefund(input: RefundInput): Promise<PayRefund>
  /** null when WeChat has no such refund (RESOURCE_NOT_EXISTS). */
  queryRefund(outRefundNo: string): Promise<PayRefund | null>
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
      const res = await send('POST', '/v3/pay/transactions/jsapi', {
        appid: cfg.appid,
        mchid: cfg.mchid,
        description: input.description,
        out_trade_no: input.outTradeNo,
        time_expire: toBeijingRfc3339(input.timeExpire),
        ...(input.attach === undefined ? {} : { attach: input.attach }),
        notify_url: input.notifyUrl,
        amount: { total: input.amountFen, currency: 'CNY' },
        payer: { openid: input.payerOpenid },
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

    async queryByOutTradeNo(outTradeNo) {
      try {
        const res = await send(
          'GET',
          `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?${mchidQuery}`,
        )
        return parseAnswer('query', res.body, toTransaction)
      } catch (err) {
        if (isNotFound(err)) return null
        throw err
      }
    },

    async closeOrder(outTradeNo) {
      await send('POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`, {
        mchid: cfg.mchid,
      })
    },

    async createRefund(input) {
      const res = await send('POST', '/v3/refund/domestic/refunds', {
        out_trade_no: input.outTradeNo,
        out_refund_no: input.outRefundNo,
        reason: input.reason,
        notify_url: input.notifyUrl,
        amount: { refund: input.refundFen, total: input.totalFen, currency: 'CNY' },
      })
      return parseAnswer('refund', res.body, toRefund)
    },

    async queryRefund(outRefundNo) {
      try {
        const res = await send('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`)
        return parseAnswer('refund query', res.body, toRefund)
      } catch (err) {
        if (isNotFound(err)) return null
        throw err
      }
    },

    parseNotification(headers, rawBody, nowSeconds) {
      return parsePayNotification(headers, rawBody, notificationKeys, nowSeconds)
    },
  }
}
