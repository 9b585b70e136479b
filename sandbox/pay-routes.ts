/**
 * WeChat Pay API v3 as the origin sees it (WECHAT.md §2): Authorization checked with the merchant
 * public key on every request, every answer signed with the platform key, errors in v3's
 * `{code, message}` form.
 */

import { createHash } from 'node:crypto'
import { type Context, Hono, type MiddlewareHandler } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { z } from 'zod'
import {
  AUTH_SCHEMA,
  parseAuthorization,
  randomAlphanumeric,
  SIGNATURE_MAX_SKEW_SECONDS,
  signWechatpayMessage,
  verifyRequestSignature,
} from '../origin/wechat/pay-crypto.ts'
import { completeRefund } from './actions.ts'
import { buildTradeBill } from './bill.ts'
import type { SandboxContext } from './context.ts'
import {
  canonicalJson,
  newPrepayId,
  newRefundId,
  nowRfc3339,
  refundView,
  type SandboxOrder,
  type SandboxRefund,
  transactionView,
} from './store.ts'

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

// notify_url may be http on 127.0.0.1 here (the real one must be public https); a query string is never allowed.
const notifyUrl = z
  .string()
  .max(255)
  .refine((value) => {
    try {
      const url = new URL(value)
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.search === ''
    } catch {
      return false
    }
  }, 'notify_url must be an absolute URL without a query string')

// The order fields both JSAPI prepay forms share.
const orderFields = {
  description: z.string().min(1).max(127),
  out_trade_no: z.string().regex(/^[A-Za-z0-9_\-|*]{6,32}$/),
  time_expire: z.string().regex(RFC3339).optional(),
  attach: z.string().max(128).optional(),
  notify_url: notifyUrl,
  goods_tag: z.string().max(32).optional(),
  support_fapiao: z.boolean().optional(),
  amount: z.strictObject({ total: z.number().int().min(1), currency: z.literal('CNY').optional() }),
  detail: z.unknown().optional(),
  scene_info: z.unknown().optional(),
  settle_info: z.unknown().optional(),
}

// Strict like v3 itself: an undocumented field is rejected (270924358), which catches typos early.
const prepaySchema = z.strictObject({
  appid: z.string().min(1).max(32),
  mchid: z.string().min(1).max(32),
  ...orderFields,
  payer: z.strictObject({ openid: z.string().min(1).max(128) }),
})

const subMchid = z.string().regex(/^[0-9]{1,32}$/)

// 服务商 JSAPI 下单: the service provider's sp_appid/sp_mchid, the paid sub_mchid, payer.sp_openid.
const partnerPrepaySchema = z.strictObject({
  sp_appid: z.string().min(1).max(32),
  sp_mchid: z.string().min(1).max(32),
  sub_appid: z.string().max(32).optional(),
  sub_mchid: subMchid,
  ...orderFields,
  payer: z.strictObject({ sp_openid: z.string().min(1).max(128) }),
})

const partnerCloseSchema = z.strictObject({ sp_mchid: z.string().min(1), sub_mchid: subMchid })

const refundSchema = z.strictObject({
  sub_mchid: subMchid.optional(),
  transaction_id: z.string().optional(),
  out_trade_no: z.string().optional(),
  out_refund_no: z.string().regex(/^[0-9A-Za-z_\-|*@]{1,64}$/),
  reason: z
    .string()
    .refine((r) => Buffer.byteLength(r, 'utf8') <= 80, 'reason is at most 80 bytes')
    .optional(),
  notify_url: notifyUrl.optional(),
  funds_account: z.string().optional(),
  amount: z.strictObject({
    refund: z.number().int().min(1),
    total: z.number().int().min(1),
    currency: z.literal('CNY'),
    from: z.array(z.unknown()).optional(),
  }),
  goods_detail: z.array(z.unknown()).optional(),
})

const closeSchema = z.strictObject({ mchid: z.string().min(1) })

function wxError(c: Context, status: ContentfulStatusCode, code: string, message: string, detail?: unknown) {
  return c.json(detail === undefined ? { code, message } : { code, message, detail }, status)
}

function paramError(c: Context, error: z.ZodError) {
  const issue = error.issues[0]
  return wxError(c, 400, 'PARAM_ERROR', issue?.message ?? 'invalid parameters', {
    field: `/${issue?.path.join('/') ?? ''}`,
    location: 'body',
  })
}

async function jsonBody(c: Context): Promise<unknown> {
  try {
    return JSON.parse(await c.req.text())
  } catch {
    return undefined
  }
}

/** Signs whatever the handlers answered, errors included, as WeChat does. */
function signAnswers(ctx: SandboxContext): MiddlewareHandler {
  return async (c, next) => {
    await next()
    const body = c.res.status === 204 ? '' : await c.res.clone().text()
    const timestamp = String(Math.floor(Date.now() / 1000))
    const nonce = randomAlphanumeric(32)
    const headers = new Headers(c.res.headers)
    headers.set('Wechatpay-Timestamp', timestamp)
    headers.set('Wechatpay-Nonce', nonce)
    headers.set('Wechatpay-Serial', ctx.identity.payPublicKeyId)
    headers.set('Wechatpay-Signature-Type', AUTH_SCHEMA)
    headers.set(
      'Wechatpay-Signature',
      signWechatpayMessage({ timestamp, nonce, body }, ctx.identity.payPrivateKeyPem),
    )
    headers.set('Request-ID', `sandbox-${randomAlphanumeric(16)}`)
    c.res = new Response(c.res.status === 204 ? null : body, { status: c.res.status, headers })
  }
}

function checkAuthorization(ctx: SandboxContext): MiddlewareHandler {
  return async (c, next) => {
    const auth = parseAuthorization(c.req.header('authorization'))
    if (!auth) return wxError(c, 401, 'SIGN_ERROR', 'Authorization header missing or malformed')
    if (auth.mchid !== ctx.identity.mchid)
      return wxError(c, 401, 'SIGN_ERROR', 'mchid in Authorization is unknown')
    if (auth.serialNo !== ctx.identity.mchSerialNo) {
      return wxError(c, 401, 'SIGN_ERROR', 'serial_no is not the merchant certificate serial')
    }
    const skewSeconds = Math.abs(Math.floor(Date.now() / 1000) - Number(auth.timestamp))
    if (!(skewSeconds <= SIGNATURE_MAX_SKEW_SECONDS)) {
      return wxError(c, 401, 'SIGN_ERROR', 'timestamp is more than 5 minutes off (seconds expected)')
    }
    const url = new URL(c.req.url)
    const signed = {
      method: c.req.method,
      canonicalUrl: url.pathname + url.search,
      timestamp: auth.timestamp,
      nonce: auth.nonce,
      body: await c.req.text(),
    }
    if (!verifyRequestSignature(signed, auth.signature, ctx.identity.mchPublicKeyPem)) {
      return wxError(c, 401, 'SIGN_ERROR', 'signature verification failed', {
        sign_information: {
          method: signed.method,
          url: signed.canonicalUrl,
          truncated_sign_message: `${signed.method}\n${signed.canonicalUrl}\n${signed.timestamp}\n${signed.nonce}\n`,
        },
      })
    }
    await next()
  }
}

export function payRoutes(ctx: SandboxContext): Hono {
  const { store, identity } = ctx
  const app = new Hono()
  app.use('*', signAnswers(ctx))
  app.use('*', ctx.traffic.middleware())
  app.use('*', checkAuthorization(ctx))

  /** Creates or re-issues an order; a re-issue must repeat the first request exactly. */
  function prepay(c: Context, fingerprint: string, fresh: () => SandboxOrder) {
    const first = fresh()
    const existing = store.orders.get(first.outTradeNo)
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        return wxError(c, 400, 'INVALID_REQUEST', '请求重入时，参数与首次请求时不一致')
      }
      if (existing.tradeState === 'SUCCESS' || existing.tradeState === 'REFUND') {
        return wxError(c, 400, 'ORDER_PAID', '该订单已支付')
      }
      if (existing.tradeState === 'CLOSED') return wxError(c, 400, 'ORDER_CLOSED', '订单已关闭')
      return c.json({ prepay_id: existing.prepayId })
    }
    store.orders.set(first.outTradeNo, first)
    return c.json({ prepay_id: first.prepayId })
  }

  app.post('/pay/transactions/jsapi', async (c) => {
    const parsed = prepaySchema.safeParse(await jsonBody(c))
    if (!parsed.success) return paramError(c, parsed.error)
    const p = parsed.data
    if (p.mchid !== identity.mchid) return wxError(c, 400, 'MCH_NOT_EXISTS', 'mchid does not exist')
    if (p.appid !== identity.appid)
      return wxError(c, 400, 'APPID_MCHID_NOT_MATCH', 'appid and mchid not match')
    return prepay(c, canonicalJson(p), () => ({
      outTradeNo: p.out_trade_no,
      appid: p.appid,
      mchid: p.mchid,
      description: p.description,
      amountTotalFen: p.amount.total,
      payerOpenid: p.payer.openid,
      notifyUrl: p.notify_url,
      timeExpire: p.time_expire,
      attach: p.attach,
      prepayId: newPrepayId(),
      fingerprint: canonicalJson(p),
      tradeState: 'NOTPAY',
      deliveries: [],
    }))
  })

  app.post('/pay/partner/transactions/jsapi', async (c) => {
    const parsed = partnerPrepaySchema.safeParse(await jsonBody(c))
    if (!parsed.success) return paramError(c, parsed.error)
    const p = parsed.data
    if (p.sp_mchid !== identity.mchid) return wxError(c, 400, 'MCH_NOT_EXISTS', 'sp_mchid does not exist')
    if (p.sp_appid !== identity.appid)
      return wxError(c, 400, 'APPID_MCHID_NOT_MATCH', 'sp_appid and sp_mchid not match')
    return prepay(c, canonicalJson(p), () => ({
      outTradeNo: p.out_trade_no,
      appid: p.sp_appid,
      mchid: p.sp_mchid,
      subMchid: p.sub_mchid,
      description: p.description,
      amountTotalFen: p.amount.total,
      payerOpenid: p.payer.sp_openid,
      notifyUrl: p.notify_url,
      timeExpire: p.time_expire,
      attach: p.attach,
      prepayId: newPrepayId(),
      fingerprint: canonicalJson(p),
      tradeState: 'NOTPAY',
      deliveries: [],
    }))
  })

  /** A direct order is not visible through the partner API and the reverse, as at WeChat. */
  const orderOf = (outTradeNo: string, sub: string | undefined) => {
    const order = store.orders.get(outTradeNo)
    return order && order.subMchid === sub ? order : undefined
  }

  function close(c: Context, order: SandboxOrder | undefined) {
    if (!order) return wxError(c, 404, 'ORDER_NOT_EXIST', '订单不存在')
    if (order.tradeState === 'SUCCESS' || order.tradeState === 'REFUND') {
      return wxError(c, 400, 'ORDER_PAID', '订单已支付')
    }
    order.tradeState = 'CLOSED'
    return c.body(null, 204)
  }

  app.get('/pay/partner/transactions/out-trade-no/:outTradeNo', (c) => {
    const { sp_mchid: spMchid, sub_mchid: sub } = c.req.query()
    if (!spMchid || !sub) {
      return wxError(c, 400, 'PARAM_ERROR', 'sp_mchid and sub_mchid are required', {
        field: spMchid ? 'sub_mchid' : 'sp_mchid',
        location: 'query',
      })
    }
    if (spMchid !== identity.mchid) return wxError(c, 400, 'MCH_NOT_EXISTS', 'sp_mchid does not exist')
    const order = orderOf(c.req.param('outTradeNo'), sub)
    if (!order) return wxError(c, 404, 'ORDER_NOT_EXIST', '订单不存在')
    return c.json(transactionView(order))
  })

  app.post('/pay/partner/transactions/out-trade-no/:outTradeNo/close', async (c) => {
    const parsed = partnerCloseSchema.safeParse(await jsonBody(c))
    if (!parsed.success) return paramError(c, parsed.error)
    if (parsed.data.sp_mchid !== identity.mchid)
      return wxError(c, 400, 'MCH_NOT_EXISTS', 'sp_mchid does not exist')
    return close(c, orderOf(c.req.param('outTradeNo'), parsed.data.sub_mchid))
  })

  app.get('/pay/transactions/out-trade-no/:outTradeNo', (c) => {
    const mchid = c.req.query('mchid')
    if (!mchid)
      return wxError(c, 400, 'PARAM_ERROR', 'mchid is required', { field: 'mchid', location: 'query' })
    if (mchid !== identity.mchid) return wxError(c, 400, 'MCH_NOT_EXISTS', 'mchid does not exist')
    const order = orderOf(c.req.param('outTradeNo'), undefined)
    if (!order) return wxError(c, 404, 'ORDER_NOT_EXIST', '订单不存在')
    return c.json(transactionView(order))
  })

  app.post('/pay/transactions/out-trade-no/:outTradeNo/close', async (c) => {
    const parsed = closeSchema.safeParse(await jsonBody(c))
    if (!parsed.success) return paramError(c, parsed.error)
    if (parsed.data.mchid !== identity.mchid) return wxError(c, 400, 'MCH_NOT_EXISTS', 'mchid does not exist')
    return close(c, orderOf(c.req.param('outTradeNo'), undefined))
  })

  app.post('/refund/domestic/refunds', async (c) => {
    const parsed = refundSchema.safeParse(await jsonBody(c))
    if (!parsed.success) return paramError(c, parsed.error)
    const r = parsed.data
    if (!r.transaction_id === !r.out_trade_no) {
      return wxError(c, 400, 'PARAM_ERROR', 'exactly one of transaction_id and out_trade_no is required')
    }
    const order = r.out_trade_no
      ? store.orders.get(r.out_trade_no)
      : store.orderByTransactionId(r.transaction_id!)
    if (!order?.transactionId || order.subMchid !== r.sub_mchid)
      return wxError(c, 404, 'RESOURCE_NOT_EXISTS', '订单不存在或未支付')
    const fingerprint = canonicalJson(r)
    const existing = store.refunds.get(r.out_refund_no)
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        return wxError(c, 400, 'INVALID_REQUEST', '请求重入时，参数与首次请求时不一致')
      }
      return c.json(refundView(existing))
    }
    if (r.amount.total !== order.amountTotalFen) {
      return wxError(c, 400, 'PARAM_ERROR', '订单金额与原订单金额不一致', {
        field: '/amount/total',
        location: 'body',
      })
    }
    if (store.committedRefundFen(order.outTradeNo) + r.amount.refund > order.amountTotalFen) {
      return wxError(c, 400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额')
    }
    const refund: SandboxRefund = {
      outRefundNo: r.out_refund_no,
      subMchid: order.subMchid,
      refundId: newRefundId(),
      outTradeNo: order.outTradeNo,
      transactionId: order.transactionId,
      refundFen: r.amount.refund,
      totalFen: r.amount.total,
      reason: r.reason,
      notifyUrl: r.notify_url,
      status: 'PROCESSING',
      createTime: nowRfc3339(),
      fingerprint,
      deliveries: [],
    }
    store.refunds.set(refund.outRefundNo, refund)
    order.tradeState = 'REFUND'
    if (ctx.refundAutoCompleteMs !== undefined) {
      setTimeout(() => {
        if (refund.status === 'PROCESSING') void completeRefund(ctx, refund, 'SUCCESS', {})
      }, ctx.refundAutoCompleteMs).unref()
    }
    return c.json(refundView(refund))
  })

  app.get('/refund/domestic/refunds/:outRefundNo', (c) => {
    const refund = store.refunds.get(c.req.param('outRefundNo'))
    if (!refund || refund.subMchid !== c.req.query('sub_mchid'))
      return wxError(c, 404, 'RESOURCE_NOT_EXISTS', '退款单不存在')
    return c.json(refundView(refund))
  })

  app.get('/bill/tradebill', (c) => {
    const date = c.req.query('bill_date') ?? ''
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) {
      return wxError(c, 400, 'PARAM_ERROR', 'bill_date must be yyyy-MM-DD', {
        field: 'bill_date',
        location: 'query',
      })
    }
    const billType = c.req.query('bill_type') ?? 'ALL'
    if (billType !== 'ALL') return wxError(c, 400, 'PARAM_ERROR', 'the sandbox serves bill_type ALL only')
    const tampering = ctx.billTampering.get(date)
    const file = buildTradeBill(store, identity, date, tampering)
    const token = randomAlphanumeric(24)
    ctx.billFiles.set(token, file)
    const hash = createHash('sha1').update(file).digest('hex')
    return c.json({
      hash_type: 'SHA1',
      hash_value: tampering?.wrongHash ? createHash('sha1').update(hash).digest('hex') : hash,
      download_url: `${new URL(c.req.url).origin}/v3/billdownload/file?token=${token}`,
    })
  })

  app.get('/billdownload/file', (c) => {
    const file = ctx.billFiles.get(c.req.query('token') ?? '')
    if (!file) return wxError(c, 400, 'INVALID_REQUEST', 'token is invalid or expired')
    return c.body(new Uint8Array(file), 200, { 'Content-Type': 'text/csv; charset=utf-8' })
  })

  app.all('*', (c) => wxError(c, 404, 'NOT_FOUND', 'no such v3 API in the sandbox'))
  return app
}
