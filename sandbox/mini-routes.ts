/**
 * The mini-program server APIs (WECHAT.md §1, §3) with the sandbox's login convention: any js_code
 * of the form `code-<openid>` logs in as that openid (API.md §10). Errors are JSON with errcode and
 * HTTP 200, like WeChat's.
 */
import { type Context, Hono } from 'hono'
import QRCode from 'qrcode'
import { z } from 'zod'
import type { SandboxContext } from './context.ts'

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

const shippingSchema = z.object({
  order_key: z.object({ order_number_type: z.literal(2), transaction_id: z.string().min(1) }),
  logistics_type: z.number().int().min(1).max(4),
  delivery_mode: z.literal(1),
  shipping_list: z
    .array(z.object({ item_desc: z.string().min(1).max(120) }))
    .min(1)
    .max(10),
  upload_time: z.string().regex(RFC3339),
  payer: z.object({ openid: z.string().min(1) }),
})

const subscribeSchema = z.object({
  touser: z.string().min(1),
  template_id: z.string().min(1),
  page: z.string().optional(),
  miniprogram_state: z.enum(['developer', 'trial', 'formal']).optional(),
  lang: z.string().optional(),
  data: z.record(z.string(), z.object({ value: z.string().min(1) })),
})

const SCENE_CHARS = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$/
const MAX_SCENE_CHARS = 32
const DEFAULT_QR_WIDTH_PX = 430

function errcode(c: Context, code: number, errmsg: string) {
  return c.json({ errcode: code, errmsg })
}

async function jsonObject(c: Context): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = JSON.parse(await c.req.text())
    return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export function miniRoutes(ctx: SandboxContext): Hono {
  const { identity, tokens } = ctx
  const app = new Hono()
  // Scoped per API prefix: this app is mounted at '/', where a '*' middleware would also wrap /v3 and /sandbox.
  for (const prefix of ['/sns/*', '/cgi-bin/*', '/wxa/*']) app.use(prefix, ctx.traffic.middleware())

  app.get('/sns/jscode2session', (c) => {
    const q = c.req.query()
    if (q.appid !== identity.appid) return errcode(c, 40013, 'invalid appid')
    if (q.secret !== identity.appSecret) return errcode(c, 40125, 'invalid appsecret')
    if (q.grant_type !== 'authorization_code') return errcode(c, 40002, 'invalid grant_type')
    const openid = /^code-([A-Za-z0-9_-]{1,64})$/.exec(q.js_code ?? '')?.[1]
    if (!openid) return errcode(c, 40029, 'invalid code')
    return c.json({ openid, session_key: Buffer.from(`${openid}:sandbox-session`).toString('base64') })
  })

  app.post('/cgi-bin/stable_token', async (c) => {
    const body = await jsonObject(c)
    if (!body) return errcode(c, 47001, 'data format error')
    if (body.grant_type !== 'client_credential') return errcode(c, 40002, 'invalid grant_type')
    if (body.appid !== identity.appid) return errcode(c, 40013, 'invalid appid')
    if (body.secret !== identity.appSecret) return errcode(c, 40125, 'invalid appsecret')
    if (body.force_refresh === true) tokens.revokeAll()
    const issued = tokens.issue()
    return c.json({ access_token: issued.accessToken, expires_in: issued.expiresInSeconds })
  })

  app.post('/wxa/getwxacodeunlimit', async (c) => {
    if (!tokens.isValid(c.req.query('access_token') ?? '')) {
      return errcode(c, 40001, 'invalid credential, access_token is invalid or not latest')
    }
    const body = await jsonObject(c)
    if (!body) return errcode(c, 47001, 'data format error')
    const scene = typeof body.scene === 'string' ? body.scene : ''
    if (scene.length === 0 || scene.length > MAX_SCENE_CHARS)
      return errcode(c, 40169, 'invalid length for scene')
    if (!SCENE_CHARS.test(scene)) return errcode(c, 40129, 'invalid scene')
    const page = body.page === undefined ? 'pages/index/index' : body.page
    if (typeof page !== 'string' || page.startsWith('/') || page.includes('?'))
      return errcode(c, 41030, 'invalid page')
    const widthPx =
      typeof body.width === 'number' ? Math.min(Math.max(body.width, 280), 1280) : DEFAULT_QR_WIDTH_PX
    const png = await QRCode.toBuffer(`${page}?scene=${encodeURIComponent(scene)}`, {
      type: 'png',
      width: widthPx,
    })
    return c.body(new Uint8Array(png), 200, { 'Content-Type': 'image/png' })
  })

  // 小程序发货信息管理: one report per paid transaction; a second answers 10060002. The errcodes
  // other than 40001/47001/10060002 are the sandbox's own choice where WeChat's docs are vague.
  app.post('/wxa/sec/order/upload_shipping_info', async (c) => {
    if (!tokens.isValid(c.req.query('access_token') ?? '')) {
      return errcode(c, 40001, 'invalid credential, access_token is invalid or not latest')
    }
    const body = await jsonObject(c)
    const parsed = body ? shippingSchema.safeParse(body) : undefined
    if (!body || !parsed?.success) return errcode(c, 47001, 'data format error')
    const s = parsed.data
    const order = ctx.store.orderByTransactionId(s.order_key.transaction_id)
    if (!order || order.appid !== identity.appid) return errcode(c, 10060001, '支付单不存在')
    if (order.payerOpenid !== s.payer.openid)
      return errcode(c, 10060014, '参数错误：payer openid 与支付单不符')
    if (ctx.store.shipments.has(order.transactionId!))
      return errcode(c, 10060002, '支付单已完成发货，无法继续发货')
    ctx.store.shipments.set(order.transactionId!, {
      transactionId: order.transactionId!,
      receivedAt: new Date().toISOString(),
      body,
    })
    return errcode(c, 0, 'ok')
  })

  app.post('/cgi-bin/message/subscribe/send', async (c) => {
    if (!tokens.isValid(c.req.query('access_token') ?? '')) {
      return errcode(c, 40001, 'invalid credential, access_token is invalid or not latest')
    }
    const body = await jsonObject(c)
    const parsed = body ? subscribeSchema.safeParse(body) : undefined
    if (!body || !parsed?.success) return errcode(c, 47003, 'argument invalid! data.thing1.value invalid')
    if (ctx.store.unsubscribed.has(parsed.data.touser))
      return errcode(c, 43101, 'user refuse to accept the msg')
    ctx.store.subscribeMessages.push({ receivedAt: new Date().toISOString(), body })
    return errcode(c, 0, 'ok')
  })

  return app
}
