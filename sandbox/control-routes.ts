/**
 * `/sandbox/*`: what tests and load scripts use to play the user and the bank (pay an order,
 * finish a refund), to inspect what WeChat would know, and to inject faults. Not part of WeChat.
 */
import { type Context, Hono } from 'hono'
import { z } from 'zod'
import { completeRefund, MAX_DUPLICATES, payOrder } from './actions.ts'
import { billTamperingSchema } from './bill.ts'
import type { SandboxContext } from './context.ts'
import { refundView, transactionView } from './store.ts'

const deliverySchema = {
  deliver: z.boolean().optional(),
  duplicates: z.number().int().min(1).max(MAX_DUPLICATES).optional(),
}
/** `amountFen`: what the shopper expects to pay; the sandbox refuses to pay a different amount. */
const paySchema = z.object({
  outTradeNo: z.string().min(1),
  amountFen: z.number().int().min(1).optional(),
  ...deliverySchema,
})
const completeSchema = z.object({ status: z.enum(['SUCCESS', 'CLOSED', 'ABNORMAL']), ...deliverySchema })
const faultSchema = z.object({
  pathPrefix: z.string().startsWith('/'),
  method: z.string().optional(),
  times: z.number().int().min(1).optional(),
  status: z.number().int().min(200).max(599).optional(),
  body: z.unknown().optional(),
  delayMs: z.number().int().min(0).max(60_000).optional(),
})

async function parse<T>(c: Context, schema: z.ZodType<T>): Promise<T | Response> {
  let raw: unknown
  try {
    raw = await c.req.json()
  } catch {
    raw = {}
  }
  const parsed = schema.safeParse(raw)
  return parsed.success ? parsed.data : c.json({ error: parsed.error.issues }, 400)
}

export function controlRoutes(ctx: SandboxContext): Hono {
  const { store } = ctx
  const app = new Hono()

  /** Answers after the first delivery attempt of every copy, so callers see its outcome at once. */
  app.post('/pay', async (c) => {
    const input = await parse(c, paySchema)
    if (input instanceof Response) return input
    const order = store.orders.get(input.outTradeNo)
    if (!order) return c.json({ error: 'no such order' }, 404)
    if (order.tradeState === 'CLOSED') return c.json({ error: 'order is closed' }, 409)
    if (input.amountFen !== undefined && input.amountFen !== order.amountTotalFen) {
      return c.json({ error: `the order asks for ${order.amountTotalFen} fen, not ${input.amountFen}` }, 409)
    }
    if (order.timeExpire && Date.parse(order.timeExpire) < Date.now() && order.tradeState === 'NOTPAY') {
      return c.json({ error: 'order expired (time_expire passed)' }, 409)
    }
    const notificationId = await payOrder(ctx, order, input)
    return c.json({ notificationId, transaction: transactionView(order), deliveries: order.deliveries })
  })

  app.post('/refunds/:outRefundNo/complete', async (c) => {
    const input = await parse(c, completeSchema)
    if (input instanceof Response) return input
    const refund = store.refunds.get(c.req.param('outRefundNo'))
    if (!refund) return c.json({ error: 'no such refund' }, 404)
    if (refund.status !== 'PROCESSING') return c.json({ error: `refund is already ${refund.status}` }, 409)
    const notificationId = await completeRefund(ctx, refund, input.status, input)
    return c.json({ notificationId, refund: refundView(refund), deliveries: refund.deliveries })
  })

  app.get('/orders/:outTradeNo', (c) => {
    const order = store.orders.get(c.req.param('outTradeNo'))
    if (!order) return c.json({ error: 'no such order' }, 404)
    return c.json({
      transaction: transactionView(order),
      notifyUrl: order.notifyUrl,
      prepayId: order.prepayId,
      timeExpire: order.timeExpire ?? null,
      deliveries: order.deliveries,
      refunds: store.refundsOf(order.outTradeNo).map(refundView),
    })
  })

  app.put('/bills/:date', async (c) => {
    const input = await parse(c, billTamperingSchema)
    if (input instanceof Response) return input
    ctx.billTampering.set(c.req.param('date'), input)
    return c.json(input)
  })

  app.delete('/bills/:date', (c) => {
    ctx.billTampering.delete(c.req.param('date'))
    return c.body(null, 204)
  })

  app.get('/subscribe-messages', (c) => c.json({ items: store.subscribeMessages }))

  /** Makes that user one who has not subscribed: messages to them answer 43101. */
  app.post('/subscribe/refuse', async (c) => {
    const input = await parse(c, z.object({ openid: z.string().min(1) }))
    if (input instanceof Response) return input
    store.unsubscribed.add(input.openid)
    return c.body(null, 204)
  })

  app.get('/shipments', (c) => c.json({ items: [...store.shipments.values()] }))

  app.get('/refunds/:outRefundNo', (c) => {
    const refund = store.refunds.get(c.req.param('outRefundNo'))
    if (!refund) return c.json({ error: 'no such refund' }, 404)
    return c.json({ refund: refundView(refund), notifyUrl: refund.notifyUrl, deliveries: refund.deliveries })
  })

  app.get('/requests', (c) => {
    const prefix = c.req.query('pathPrefix') ?? ''
    return c.json({ items: ctx.traffic.log.filter((r) => r.path.startsWith(prefix)) })
  })

  app.post('/faults', async (c) => {
    const input = await parse(c, faultSchema)
    if (input instanceof Response) return input
    ctx.traffic.addFault(input)
    return c.json({ ok: true }, 201)
  })

  app.delete('/faults', (c) => {
    ctx.traffic.clearFaults()
    return c.body(null, 204)
  })

  app.post('/access-tokens/revoke', (c) => {
    ctx.tokens.revokeAll()
    return c.body(null, 204)
  })

  return app
}
