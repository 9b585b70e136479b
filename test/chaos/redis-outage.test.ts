/**
 * Redis outage: the origin reaches Redis through a TCP proxy that the test cuts and restores.
 * Redis holds the edge-signature replay nonces, so while it is gone every signed request must be
 * refused cleanly — 503 ORIGIN_UNAVAILABLE in the API's error format, never a 500 and never
 * accepted without replay protection — /ready must say 503, and WeChat's callbacks (which need no
 * Redis) must keep being applied. When the proxy is restored the same origin process recovers.
 */
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import type { ApiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack } from '../harness/stack.ts'
import {
  auditBusinessAgainstLedger,
  type ProxiedStack,
  rows,
  sleep,
  startProxiedStack,
  type TcpProxy,
  waitUntil,
} from './support.ts'

let proxied: ProxiedStack
let stack: Stack
let proxy: TcpProxy
let api: ApiClient

beforeAll(async () => {
  proxied = await startProxiedStack({ redis: true })
  ;({ stack, api } = proxied)
  proxy = proxied.redis!
}, 60_000)

afterAll(async () => {
  await proxied?.close()
})

const ready = () => proxied.ready()

describe('Redis outage', () => {
  it('refuses signed requests with 503 while Redis is cut, still applies payments, and recovers', async () => {
    const m = await activeMerchant(api)
    const alice = await userWithPoints(api, 500, m)
    const bob = await api.login(uniqueOpenid('bob'))
    const order = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen: 2500 },
      { token: alice.token, idempotencyKey: idemKey() },
    )
    expect(order.status).toBe(201)
    expect((await ready()).status).toBe(200)
    const pid = stack.origin.child.pid

    proxy.cut()
    await waitUntil('/ready to report Redis down', async () => (await ready()).status === 503, 10_000, 100)
    expect((await ready()).body.checks).toEqual({ mysql: 'ok', redis: 'down' })

    // Every kind of signed request, several times over the outage: all refused the same clean way.
    const giftKey = idemKey()
    const attempts: Array<{
      what: string
      status: number
      body: any
      requestId: string | null
      retryAfter: string | null
    }> = []
    for (let round = 0; round < 4; round++) {
      const calls: Array<[string, Promise<Awaited<ReturnType<typeof api.get>>>]> = [
        ['balance', api.get('/api/points/balance', { token: alice.token })],
        [
          'gift',
          api.post('/api/points/gifts', { points: 50 }, { token: alice.token, idempotencyKey: giftKey }),
        ],
        [
          'order',
          api.post('/api/orders', { merchantId: m.merchantId, amountFen: 100 }, { token: bob.token }),
        ],
        ['login', api.post('/api/auth/login', { code: `code-${uniqueOpenid('c')}` })],
        ['merchant', api.get(`/api/merchants/${m.merchantId}`)],
      ]
      for (const [what, call] of calls) {
        const r = await call
        attempts.push({
          what,
          status: r.status,
          body: r.body,
          requestId: r.headers.get('x-request-id'),
          retryAfter: r.headers.get('retry-after'),
        })
      }
      await sleep(300)
    }
    const unclean = attempts.filter((a) => a.status !== 503 || a.body?.error?.code !== 'ORIGIN_UNAVAILABLE')
    expect(unclean.map((a) => `${a.what}: ${a.status} ${JSON.stringify(a.body)}`)).toEqual([])
    for (const a of attempts) {
      expect(a.body.requestId).toBe(a.requestId)
      expect(a.retryAfter, `${a.what} Retry-After`).toMatch(/^[0-9]+$/)
    }

    // Unsigned requests are still refused as unsigned (that needs no Redis).
    expect((await api.get('/api/points/balance', { token: alice.token, sign: false })).status).toBe(401)

    // WeChat's callbacks do not go through the edge check: the payment is applied during the outage.
    const paid = await control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo: order.body.outTradeNo })
    expect(paid.json.deliveries[0].attempts[0].status).toBe(204)
    const [row] = await rows(
      stack,
      sql`SELECT status, points_awarded FROM orders WHERE id = ${order.body.id}`,
    )
    expect(row).toMatchObject({ status: 'PAID', points_awarded: 25 })

    proxy.restore()
    await waitUntil('/ready after Redis is back', async () => (await ready()).status === 200, 15_000, 100)
    expect(stack.origin.child.pid).toBe(pid)

    // The refused gift was never made; retried with its key it is made exactly once.
    const gift = await api.post(
      '/api/points/gifts',
      { points: 50 },
      { token: alice.token, idempotencyKey: giftKey },
    )
    expect(gift.status).toBe(201)
    const again = await api.post(
      '/api/points/gifts',
      { points: 50 },
      { token: alice.token, idempotencyKey: giftKey },
    )
    expect(again.body).toEqual(gift.body)
    expect((await api.get('/api/points/balance', { token: alice.token })).body).toEqual({
      balance: 500 + 25 - 50,
      heldInGifts: 50,
      totalEarned: 525,
      expiringSoon: null,
    })
    expect(await invariants(stack)).toEqual(HOLDS)
    expect(await auditBusinessAgainstLedger(stack)).toEqual([])
    expect(stack.origin.output()).not.toContain('unhandled error')
  }, 60_000)
})
