/**
 * Database outage without touching the shared MariaDB: the origin reaches it through a TCP proxy
 * that the test cuts (every connection reset, new ones refused) in the middle of a load of orders,
 * payments (WeChat callbacks), gifts, claims and reads, then restores.
 *
 * During the cut: every API answer is 503 ORIGIN_UNAVAILABLE in the error format (no 500, the
 * process stays up), /ready is 503 with mysql down, callbacks get {"code":"FAIL"} so WeChat
 * redelivers. After the restore the same process serves again, keyed requests retried with their
 * Idempotency-Key take effect exactly once, every payment is applied once, and every balance is
 * exactly what the successful operations add up to.
 */
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import type { ApiClient, ApiResponse } from '../harness/client.ts'
import { activeMerchant, idemKey, userWithPoints } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack } from '../harness/stack.ts'
import { Rng } from '../sim/generator.ts'
import {
  auditBusinessAgainstLedger,
  isTransportError,
  newRetryStats,
  type ProxiedStack,
  retrying,
  rows,
  sleep,
  startProxiedStack,
  type TcpProxy,
  userBalances,
  waitUntil,
} from './support.ts'

let proxied: ProxiedStack
let stack: Stack
let proxy: TcpProxy
let api: ApiClient

beforeAll(async () => {
  proxied = await startProxiedStack({ mysql: true })
  ;({ stack, api } = proxied)
  proxy = proxied.mysql!
}, 60_000)

afterAll(async () => {
  await proxied?.close()
})

const ready = () => proxied.ready()

interface Keyed {
  kind: 'order' | 'gift'
  user: number
  key: string
  body: Record<string, unknown>
  final?: ApiResponse
}

describe('database outage through a cut TCP proxy', () => {
  it('answers 503 during the cut, loses and doubles nothing, and recovers without a restart', async () => {
    const rng = new Rng(20240611)
    const m = await activeMerchant(api)
    const put = await api.put(
      '/api/merchant/rule',
      { earnPoints: 1, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
      { token: m.ownerToken },
    )
    expect(put.status).toBe(200)
    const shoppers = await Promise.all(Array.from({ length: 6 }, () => userWithPoints(api, 1000, m)))
    const pid = stack.origin.child.pid

    const keyed: Keyed[] = []
    const orders: Array<{ user: number; id: string; outTradeNo: string; amountFen: number; paid: boolean }> =
      []
    const gifts: Array<{ user: number; code: string }> = []
    const answers: Array<{ at: number; status: number; body: any; what: string }> = []
    const transport: string[] = []
    const callbackAttempts: Array<{ at: number; status: unknown }> = []
    let cutAt = Number.POSITIVE_INFINITY
    let restoredAt = Number.POSITIVE_INFINITY

    const send = async (what: string, call: () => Promise<ApiResponse>): Promise<ApiResponse | null> => {
      try {
        const r = await call()
        answers.push({ at: Date.now(), status: r.status, body: r.body, what })
        return r
      } catch (err) {
        if (!isTransportError(err)) throw err
        transport.push(`${what}: ${(err as Error).message}`)
        return null
      }
    }

    const stopAt = Date.now() + 8_000
    const worker = async () => {
      while (Date.now() < stopAt) {
        const user = rng.int(0, shoppers.length - 1)
        const token = shoppers[user]!.token
        const action = rng.weighted<string>([
          ['order', 3],
          ['pay', 3],
          ['gift', 2],
          ['claim', 2],
          ['balance', 2],
        ])
        if (action === 'order') {
          const k: Keyed = {
            kind: 'order',
            user,
            key: idemKey(),
            body: { merchantId: m.merchantId, amountFen: rng.int(100, 20_000) },
          }
          keyed.push(k)
          const r = await send('order', () =>
            api.post('/api/orders', k.body, { token, idempotencyKey: k.key }),
          )
          if (r?.status === 201) {
            k.final = r
            orders.push({
              user,
              id: r.body.id,
              outTradeNo: r.body.outTradeNo,
              amountFen: r.body.amountFen,
              paid: false,
            })
          }
        } else if (action === 'pay') {
          const o = orders.find((x) => !x.paid)
          if (!o) continue
          o.paid = true
          const paid = await control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo: o.outTradeNo })
          for (const d of paid.json.deliveries ?? [])
            callbackAttempts.push({
              at: Date.now(),
              status: d.attempts?.[0]?.status ?? d.attempts?.[0]?.error,
            })
        } else if (action === 'gift') {
          const k: Keyed = { kind: 'gift', user, key: idemKey(), body: { points: rng.int(1, 20) } }
          keyed.push(k)
          const r = await send('gift', () =>
            api.post('/api/points/gifts', k.body, { token, idempotencyKey: k.key }),
          )
          if (r?.status === 201) {
            k.final = r
            gifts.push({ user, code: r.body.code })
          }
        } else if (action === 'claim') {
          const g = gifts.find((x) => x.user !== user)
          if (!g) continue
          await send('claim', () => api.post(`/api/points/gifts/${g.code}/claim`, undefined, { token }))
        } else {
          await send('balance', () => api.get('/api/points/balance', { token }))
        }
        await sleep(rng.int(5, 40))
      }
    }

    const chaos = async () => {
      await sleep(1_500)
      cutAt = Date.now()
      proxy.cut()
      await sleep(500)
      const during = await ready()
      expect(during.status).toBe(503)
      expect(during.body.checks).toEqual({ mysql: 'down', redis: 'ok' })
      // A payment WeChat reports now cannot be recorded: the callback must ask for redelivery.
      const o = orders.find((x) => !x.paid)
      if (o) {
        o.paid = true
        const paid = await control<any>(stack.sandbox, 'POST', '/pay', { outTradeNo: o.outTradeNo })
        const first = paid.json.deliveries[0].attempts[0]
        expect(first.status).toBeGreaterThanOrEqual(500)
      }
      await sleep(2_000)
      proxy.restore()
      restoredAt = Date.now()
      await waitUntil(
        '/ready after the database is back',
        async () => (await ready()).status === 200,
        15_000,
        100,
      )
    }

    await Promise.all([chaos(), ...Array.from({ length: 6 }, worker)])
    expect(stack.origin.child.pid).toBe(pid)
    expect(transport).toEqual([])

    // Every answer was either a normal one or a clean 503 — and the 503s happened around the cut.
    const unavailable = answers.filter((a) => a.status === 503)
    expect(unavailable.length).toBeGreaterThan(0)
    for (const a of unavailable) {
      expect(a.body.error.code).toBe('ORIGIN_UNAVAILABLE')
      expect(typeof a.body.requestId).toBe('string')
      expect(a.at).toBeGreaterThanOrEqual(cutAt)
    }

    // Retry every keyed create that got no definite answer, with its key: exactly-once afterwards.
    const stats = newRetryStats()
    for (const k of keyed.filter((x) => !x.final || x.final.status === 503)) {
      const path = k.kind === 'order' ? '/api/orders' : '/api/points/gifts'
      const token = shoppers[k.user]!.token
      k.final = await retrying(api, 'POST', path, { token, body: k.body, idempotencyKey: k.key }, stats)
      if (k.kind === 'order' && k.final.status === 201 && !orders.some((o) => o.id === k.final!.body.id))
        orders.push({
          user: k.user,
          id: k.final.body.id,
          outTradeNo: k.final.body.outTradeNo,
          amountFen: k.final.body.amountFen,
          paid: false,
        })
    }
    expect(stats.other5xx).toEqual([])
    for (const o of orders.filter((x) => !x.paid)) {
      o.paid = true
      await control(stack.sandbox, 'POST', '/pay', { outTradeNo: o.outTradeNo })
    }
    await waitUntil(
      'every paid order to be applied (WeChat redelivers what failed during the cut)',
      async () =>
        (await rows(stack, sql`SELECT COUNT(*) AS n FROM orders WHERE status <> 'PAID'`))[0]!.n === 0,
      30_000,
    )

    // Exactly one order / gift per key that succeeded, none for keys that were finally refused.
    const okKeys = (kind: Keyed['kind']) => keyed.filter((k) => k.kind === kind && k.final?.status === 201)
    const [orderCount] = await rows(stack, sql`SELECT COUNT(*) AS n FROM orders`)
    expect(Number(orderCount!.n)).toBe(okKeys('order').length)
    const giftRows = await rows(
      stack,
      sql`SELECT sender_user_id, claimed_by_user_id, status, points FROM gifts`,
    )
    expect(giftRows.length).toBe(okKeys('gift').length)

    // Balances: grant + awards − gifts sent (still held or claimed) + gifts claimed.
    const balances = await userBalances(stack)
    for (const [i, s] of shoppers.entries()) {
      const earned = orders
        .filter((o) => o.user === i)
        .reduce((sum, o) => sum + Math.floor(o.amountFen / 100), 0)
      const sent = giftRows
        .filter((g) => String(g.sender_user_id) === s.id)
        .reduce((x, g) => x + Number(g.points), 0)
      const got = giftRows
        .filter((g) => String(g.claimed_by_user_id) === s.id)
        .reduce((x, g) => x + Number(g.points), 0)
      expect(balances.get(s.id), `shopper ${i}`).toBe(1000 + earned - sent + got)
    }
    expect(await invariants(stack)).toEqual(HOLDS)
    expect(await auditBusinessAgainstLedger(stack)).toEqual([])
    console.info(
      `db outage: ${answers.length} answers, ${unavailable.length} × 503 during a ${restoredAt - cutAt} ms cut, ` +
        `${callbackAttempts.filter((a) => a.status !== 204).length} callbacks refused for redelivery, ` +
        `${orders.length} orders, ${giftRows.length} gifts`,
    )
    // Last, so that everything above is verified even while finding 2 (RELIABILITY.md) is open:
    // a request whose transaction was cut mid-way must also be a clean 503.
    expect(
      answers.filter((a) => a.status >= 500 && a.status !== 503).map((a) => `${a.what}: ${a.status}`),
    ).toEqual([])
  }, 90_000)

  it('answers 503, not 500, to requests whose transaction is cut mid-way', async () => {
    const m = await activeMerchant(api)
    const alice = await userWithPoints(api, 100_000, m)
    const statuses: number[] = []
    let stop = false
    const worker = async () => {
      while (!stop) {
        const r = await api
          .post('/api/points/gifts', { points: 1 }, { token: alice.token, idempotencyKey: idemKey() })
          .catch(() => null)
        statuses.push(r?.status ?? 0)
      }
    }
    const workers = Array.from({ length: 24 }, worker)
    await sleep(1_000)
    proxy.cut()
    await sleep(1_000)
    stop = true
    await Promise.all(workers)
    proxy.restore()
    await waitUntil(
      '/ready after the database is back',
      async () => (await ready()).status === 200,
      15_000,
      100,
    )
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0)
    expect(await invariants(stack)).toEqual(HOLDS)
    expect(await auditBusinessAgainstLedger(stack)).toEqual([])
    const wrong = statuses.filter((s) => s !== 201 && s !== 503)
    expect(wrong, 'answers other than 201 or a clean 503 (0 = no HTTP answer)').toEqual([])
  }, 60_000)
})
