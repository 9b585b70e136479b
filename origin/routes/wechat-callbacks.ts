/**
 * WeChat Pay notifications (API.md §5). Nothing is believed before the signature over the raw body
 * verifies and the resource decrypts. Answers: 204 when handled (or nothing to do), otherwise
 * 4xx/5xx with {"code":"FAIL"} so WeChat delivers again.
 */
import { type Context, Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { applyPayment } from '../services/orders.ts'
import { applyRefundResult } from '../services/refunds.ts'
import { WechatNotificationError } from '../wechat/errors.ts'
import type { PayNotification } from '../wechat/pay-notification.ts'
import { ResourceShapeError, toRefund, toTransaction } from '../wechat/pay-resources.ts'

const REFUND_EVENTS = new Set(['REFUND.SUCCESS', 'REFUND.CLOSED', 'REFUND.ABNORMAL'])

function fail(c: Context<AppEnv>, status: ContentfulStatusCode, message: string) {
  return c.json({ code: 'FAIL', message }, status)
}

function handler(deps: OriginDeps, handle: (n: PayNotification) => Promise<'ok' | 'rejected'>) {
  return async (c: Context<AppEnv>) => {
    const raw = await c.req.text()
    let notification: PayNotification
    try {
      notification = deps.pay.parseNotification(c.req.raw.headers, raw)
    } catch (err) {
      if (err instanceof WechatNotificationError) {
        deps.log.warn('notification refused', { reason: err.reason, requestId: c.get('requestId') })
        return fail(c, 401, `notification refused: ${err.reason}`)
      }
      throw err
    }
    try {
      return (await handle(notification)) === 'ok'
        ? c.body(null, 204)
        : fail(c, 400, 'notification does not match')
    } catch (err) {
      if (err instanceof ResourceShapeError) {
        deps.log.warn('notification resource malformed', {
          requestId: c.get('requestId'),
          event: notification.eventType,
        })
        return fail(c, 400, 'notification resource is malformed')
      }
      deps.log.error('notification processing failed', {
        requestId: c.get('requestId'),
        event: notification.eventType,
        error: (err as Error).message,
      })
      return fail(c, 500, 'processing failed; deliver again')
    }
  }
}

export function wechatCallbackRoutes(deps: OriginDeps) {
  return new Hono<AppEnv>()
    .post(
      '/payment/callback',
      handler(deps, async (n) => {
        if (n.eventType !== 'TRANSACTION.SUCCESS') return 'ok'
        const outcome = await applyPayment(deps, toTransaction(n.resource), 'notification')
        return outcome === 'rejected' ? 'rejected' : 'ok'
      }),
    )
    .post(
      '/refund/callback',
      handler(deps, async (n) => {
        if (!REFUND_EVENTS.has(n.eventType)) return 'ok'
        const outcome = await applyRefundResult(deps, toRefund(n.resource), 'notification')
        return outcome === 'rejected' ? 'rejected' : 'ok'
      }),
    )
}
