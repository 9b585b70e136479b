/**
 * Money in an in-process origin: the sandbox's pay and refund controls, with the notifications they
 * cause handed to the app. The origin's notify_url names its made-up PUBLIC_BASE_URL host, which no
 * socket answers, so requests the sandbox sends there are routed to app.request instead.
 */
import { afterAll, beforeAll, vi } from 'vitest'
import { idemKey } from './fixtures.ts'
import type { InProcessOrigin } from './in-process.ts'

const urlOf = (input: string | URL | Request) =>
  typeof input === 'string' ? input : input instanceof URL ? input.href : input.url

/** Registers the routing for the file: from beforeAll to afterAll. */
export function routeNotificationsTo(origin: () => InProcessOrigin) {
  beforeAll(() => {
    const realFetch = globalThis.fetch
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const base = origin().deps.config.PUBLIC_BASE_URL
      const url = urlOf(input)
      if (!url.startsWith(`${base}/`)) return realFetch(input, init)
      const res = await origin().api.call(init?.method ?? 'GET', url.slice(base.length), {
        rawBody: typeof init?.body === 'string' ? init.body : undefined,
        headers: init?.headers as Record<string, string>,
        sign: false,
      })
      return new Response(res.text || null, { status: res.status, headers: res.headers })
    })
  })
  afterAll(() => {
    vi.restoreAllMocks()
  })
}

async function control(origin: InProcessOrigin, path: string, body: unknown) {
  const res = await fetch(`${origin.deps.config.WECHAT_PAY_BASE_URL}/sandbox${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`sandbox ${path} failed: ${res.status} ${await res.text()}`)
  const answer = (await res.json()) as { deliveries: { delivered: boolean }[] }
  if (!answer.deliveries.at(-1)?.delivered)
    throw new Error(
      `sandbox ${path}: the origin refused the notification: ${JSON.stringify(answer.deliveries.at(-1))}`,
    )
}

/** The payer pays at WeChat; the notification has been applied when this returns. */
export const payInSandbox = (origin: InProcessOrigin, outTradeNo: string) =>
  control(origin, '/pay', { outTradeNo })

/** The bank settles a refund; the notification has been applied when this returns. */
export const settleRefundInSandbox = (origin: InProcessOrigin, outRefundNo: string, status = 'SUCCESS') =>
  control(origin, `/refunds/${outRefundNo}/complete`, { status })

/** A PAID order of `amountFen` by a fresh payer's token at the merchant. */
export async function paidOrder(
  origin: InProcessOrigin,
  merchantId: string,
  payerToken: string,
  amountFen: number,
) {
  const created = await origin.api.post(
    '/api/orders',
    { merchantId, amountFen },
    { token: payerToken, idempotencyKey: idemKey() },
  )
  if (created.status !== 201) throw new Error(`order failed ${created.status} ${created.text}`)
  await payInSandbox(origin, created.body.outTradeNo)
  return created.body as { id: string; outTradeNo: string; expectedPoints: number }
}
