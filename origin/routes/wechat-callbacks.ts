/**
 * WeChat Pay notifications (API.md §5). Nothing is believed before the signature over the raw body
 * verifies and the resource decrypts. Answers: 204 when handled (or nothing to do), otherwise
 * 4xx/5xx with {"code":"FAIL"} so WeChat delivers again.
 */
import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { router } from '../http/openapi.ts'
import { applyPayment } from '../services/order-payment.ts'
import { applyRefundResult } from '../services/refunds.ts'
import { WechatNotificationError } from '../wechat/errors.ts'
import type { PayNotification } from '../wechat/pay-notification.ts'
import { json } from './components.ts'

/** WeChat's answer to a notification it should deliver again: `{"code":"FAIL","message":…}`. */
export function wechatFail(c: Context, status: ContentfulStatusCode, message: string) {
  return c.json({ code: 'FAIL' as const, message }, status)
}

type Handled = 'ok' | 'rejected' | 'malformed'

function handler(deps: OriginDeps, handle: (n: PayNotification) => Promise<Handled>) {
  return async (c: Context<AppEnv>) => {
    const raw = await c.req.text()
    let notification: PayNotification
    try {
      notification = deps.pay.parseNotification(c.req.raw.headers, raw)
    } catch (err) {
      if (err instanceof WechatNotificationError) {
        deps.log.warn('notification refused', { reason: err.reason, requestId: c.get('requestId') })
        return wechatFail(c, 401, `notification refused: ${err.reason}`)
      }
      throw err
    }
    try {
      switch (await handle(notification)) {
        case 'ok':
          return c.body(null, 204)
        case 'rejected':
          return wechatFail(c, 400, 'notification does not match')
        case 'malformed':
          deps.log.warn('notification resource malformed', {
            requestId: c.get('requestId'),
            event: notification.eventType,
          })
          return wechatFail(c, 400, 'notification resource is malformed')
      }
    } catch (err) {
      deps.log.error('notification processing failed', {
        requestId: c.get('requestId'),
        event: notification.eventType,
        error: (err as Error).message,
      })
      return wechatFail(c, 500, 'processing failed; deliver again')
    }
  }
}

const WechatFail = z.object({ code: z.literal('FAIL'), message: z.string() }).openapi('WechatFail')

/** The notification body is read raw (its signature covers the bytes), so it is documented only. */
const callback = (path: string, operationId: string, summary: string) =>
  createRoute({
    method: 'post',
    path,
    operationId,
    summary,
    tags: ['wechat'],
    parameters: ['Wechatpay-Signature', 'Wechatpay-Timestamp', 'Wechatpay-Nonce', 'Wechatpay-Serial'].map(
      (name) => ({ name, in: 'header' as const, required: true, schema: { type: 'string' as const } }),
    ),
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: { type: 'object' as const } } },
      },
    },
    responses: {
      204: { description: 'Handled, or nothing to do' },
      400: json(WechatFail, 'The notification does not match or is malformed'),
      401: json(WechatFail, 'The signature does not verify'),
      413: json(WechatFail, 'The body is too large'),
      500: json(WechatFail, 'Processing failed; WeChat delivers again'),
    },
  })

export function wechatCallbackRoutes(deps: OriginDeps) {
  return router()
    .openapi(
      callback(
        '/payment/callback',
        'paymentNotification',
        'WeChat Pay payment notification (origin only, WeChat-signed)',
      ),
      handler(deps, async ({ event }) => {
        switch (event.kind) {
          case 'transaction':
            return (await applyPayment(deps, event.transaction, 'notification')) === 'rejected'
              ? 'rejected'
              : 'ok'
          case 'malformed':
            return event.of === 'transaction' ? 'malformed' : 'ok'
          case 'refund':
          case 'ignored':
            return 'ok'
        }
      }),
    )
    .openapi(
      callback(
        '/refund/callback',
        'refundNotification',
        'WeChat Pay refund notification (origin only, WeChat-signed)',
      ),
      handler(deps, async ({ event }) => {
        switch (event.kind) {
          case 'refund':
            return (await applyRefundResult(deps, event.refund, 'notification')) === 'rejected'
              ? 'rejected'
              : 'ok'
          case 'malformed':
            return event.of === 'refund' ? 'malformed' : 'ok'
          case 'transaction':
          case 'ignored':
            return 'ok'
        }
      }),
    )
}
