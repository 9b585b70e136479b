/**
 * Two origin instances on one database, both running the jobs (every 100 ms), while instance B is
 * restarted (SIGTERM, graceful) over and over during a load burst. The client plays the load
 * balancer: it spreads requests over both instances and sends a request that could not connect to
 * the other one (nothing was sent, so that is safe for any request).
 *
 * The jobs are given real work: payments whose notification was lost (only the reconcile job can
 * apply them: 30 s after the order), refund results whose notification was lost (the refund job:
 * 10 s), gifts nobody claims (the expiry job: TTL 2 s). Both instances race for every item.
 *
 * Holds: clients see no failure other than the documented 503; every job item is applied once
 * (global invariants, ledger-vs-business audit, exact balances).
 */
import { request } from 'node:http'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { edgeSignatureHeaders } from '../../shared/edge-signing.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, userWithPoints } from '../harness/fixtures.ts'
import { type OriginProcess, startOriginProcess } from '../harness/origin-process.ts'
import { freePort } from '../harness/ports.ts'
import { EDGE_KEY_ID, EDGE_SECRET, HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'
import { Rng } from '../sim/generator.ts'
import {
  auditBusinessAgainstLedger,
  expectedShopperBalance,
  rows,
  sleep,
  userBalances,
  waitUntil,
} from './support.ts'

let stack: Stack
let b: OriginProcess
let portB: number
let envB: Record<string, string>

beforeAll(async () => {
  stack = await startStack({ env: { GIFT_TTL_SECONDS: '2', JOB_INTERVAL_MS: '100' } })
  portB = await freePort()
  envB = { ...stack.env, PUBLIC_BASE_URL: `http://127.0.0.1:${portB}` }
  b = await startOriginProcess(envB, portB)
}, 60_000)

afterAll(async () => {
  await b?.stop()
  await stack?.close()
})

interface Answer {
  status: number
  body: any
}

/** The load balancer: one fresh connection per request, to A or B; a refused connection goes to the other. */
function lb(rng: Rng, stats: { failovers: number; statuses: Record<string, number>; bad: string[] }) {
  const once = (port: number, method: string, path: string, body: string, headers: Record<string, string>) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null })
        })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(body || undefined)
    })
  return async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; key?: string } = {},
  ): Promise<Answer> => {
    const body = opts.body === undefined ? '' : JSON.stringify(opts.body)
    const authorization = opts.token ? `Bearer ${opts.token}` : ''
    const ports = rng.chance(0.5) ? [stack.origin.port, portB] : [portB, stack.origin.port]
    for (let attempt = 0; attempt < 40; attempt++) {
      const headers: Record<string, string> = {
        ...(await edgeSignatureHeaders(EDGE_KEY_ID, EDGE_SECRET, {
          method,
          pathWithQuery: path,
          body,
          authorization,
        })),
      }
      if (body) headers['content-type'] = 'application/json'
      if (authorization) headers.authorization = authorization
      if (opts.key) headers['idempotency-key'] = opts.key
      try {
        const r = await once(ports[attempt % 2]!, method, path, body, headers)
        stats.statuses[r.status] = (stats.statuses[r.status] ?? 0) + 1
        if (r.status >= 500 && r.status !== 503)
          stats.bad.push(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`)
        if (r.status === 503 && r.body?.error?.code !== 'ORIGIN_UNAVAILABLE')
          stats.bad.push(`${path}: 503 ${JSON.stringify(r.body)}`)
        return r
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code !== 'ECONNREFUSED' && code !== 'ECONNRESET') throw err
        stats.failovers++
        if (attempt % 2 === 1) await sleep(100)
      }
    }
    throw new Error(`${method} ${path}: no instance answered`)
  }
}

describe('two origins on one database, one restarted repeatedly', () => {
  it('serves through the restarts and the jobs of both instances apply every item once', async () => {
    const rng = new Rng(31_337)
    const stats = { failovers: 0, statuses: {} as Record<string, number>, bad: [] as string[] }
    const call = lb(rng, stats)
    const api = apiClient(stack.origin.url)
    const m = await activeMerchant(api)
    await api.put(
      '/api/merchant/rule',
      { earnPoints: 1, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
      { token: m.ownerToken },
    )
    const shoppers = await Promise.all(Array.from({ length: 8 }, () => userWithPoints(api, 500, m)))
    const started = Date.now()
    const orders: Array<{ user: number; id: string; amountFen: number }> = []
    const refunds: Array<{ order: string; amountFen: number; result: 'SUCCESS' | 'CLOSED' }> = []
    const newOrder = async (user: number) => {
      const amountFen = rng.int(100, 20_000)
      const r = await call('POST', '/api/orders', {
        token: shoppers[user]!.token,
        body: { merchantId: m.merchantId, amountFen },
        key: idemKey(),
      })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      orders.push({ user, id: r.body.id, amountFen })
      return r.body as { id: string; outTradeNo: string }
    }

    // Work that only the jobs can finish: lost payment notifications, lost refund results.
    for (let i = 0; i < 16; i++) {
      const o = await newOrder(i % shoppers.length)
      await control(stack.sandbox, 'POST', '/pay', { outTradeNo: o.outTradeNo, deliver: false })
    }
    for (let i = 0; i < 8; i++) {
      const o = await newOrder(i % shoppers.length)
      await control(stack.sandbox, 'POST', '/pay', { outTradeNo: o.outTradeNo })
      const amount = orders.at(-1)!.amountFen
      const refundFen = rng.chance(0.5) ? amount : rng.int(1, amount)
      const r = await call('POST', `/api/merchant/orders/${o.id}/refunds`, {
        token: m.ownerToken,
        body: { amountFen: refundFen, reason: 'two origins' },
        key: idemKey(),
      })
      expect(r.status, JSON.stringify(r.body)).toBe(202)
      const result = rng.chance(0.75) ? 'SUCCESS' : 'CLOSED'
      refunds.push({ order: o.id, amountFen: refundFen, result })
      await control(stack.sandbox, 'POST', `/refunds/${r.body.outRefundNo}/complete`, {
        status: result,
        deliver: false,
      })
    }

    // B restarts every 1–2.5 s until everything is settled.
    let settled = false
    let restarts = 0
    const restarter = (async () => {
      while (!settled) {
        await sleep(rng.int(1_000, 2_500))
        if (settled) break
        await b.stop('SIGTERM')
        b = await startOriginProcess(envB, portB)
        restarts++
      }
    })()

    // The burst: paid orders (duplicate notifications, some to the instance being restarted),
    // gifts (most left to expire), claims, grants, reads.
    const gifts: string[] = []
    const burstUntil = Date.now() + 15_000
    const worker = async () => {
      while (Date.now() < burstUntil) {
        const user = rng.int(0, shoppers.length - 1)
        const token = shoppers[user]!.token
        const what = rng.weighted<string>([
          ['order', 3],
          ['gift', 3],
          ['claim', 1],
          ['grant', 1],
          ['read', 2],
        ])
        if (what === 'order') {
          const o = await newOrder(user)
          await control(stack.sandbox, 'POST', '/pay', { outTradeNo: o.outTradeNo, duplicates: 2 })
        } else if (what === 'gift') {
          const r = await call('POST', '/api/points/gifts', {
            token,
            body: { points: rng.int(1, 15) },
            key: idemKey(),
          })
          if (r.status === 201) gifts.push(r.body.code)
        } else if (what === 'claim' && gifts.length) {
          await call('POST', `/api/points/gifts/${rng.pick(gifts)}/claim`, { token })
        } else if (what === 'grant') {
          const r = await call('POST', '/api/merchant/grants', {
            token: m.ownerToken,
            body: { userId: shoppers[user]!.id, points: 7, reason: 'burst' },
            key: idemKey(),
          })
          expect(r.status).toBe(201)
        } else {
          await call('GET', '/api/points/balance', { token })
        }
      }
    }
    await Promise.all(Array.from({ length: 6 }, worker))

    const open = async () =>
      Number(
        (
          await rows(
            stack,
            sql`SELECT (SELECT COUNT(*) FROM orders WHERE status = 'PENDING')
                     + (SELECT COUNT(*) FROM refunds WHERE status = 'PROCESSING')
                     + (SELECT COUNT(*) FROM gifts WHERE status = 'PENDING') AS n`,
          )
        )[0]!.n,
      )
    await waitUntil(
      'the jobs to settle every lost payment, lost refund result and expired gift',
      async () => (await open()) === 0,
      45_000,
    )
    settled = true
    await restarter

    expect(stats.bad).toEqual([])
    expect(restarts).toBeGreaterThanOrEqual(3)
    expect(await invariants(stack)).toEqual(HOLDS)
    expect(await auditBusinessAgainstLedger(stack)).toEqual([])
    const refundRows = await rows(stack, sql`SELECT order_id, status FROM refunds`)
    for (const r of refunds)
      expect(refundRows.find((x) => String(x.order_id) === r.order)?.status).toBe(
        r.result === 'SUCCESS' ? 'SUCCESS' : 'FAILED',
      )
    const grants = await rows(
      stack,
      sql`SELECT a.owner_id, SUM(t.points) AS p FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
          WHERE t.kind = 'MERCHANT_GRANT' GROUP BY a.owner_id`,
    )
    const giftRows = await rows(
      stack,
      sql`SELECT status, points, sender_user_id, claimed_by_user_id FROM gifts`,
    )
    const balances = await userBalances(stack)
    for (const [i, s] of shoppers.entries()) {
      const expected = expectedShopperBalance(
        { index: i, id: s.id },
        Number(grants.find((g) => String(g.owner_id) === s.id)?.p ?? 0),
        orders,
        refunds,
        giftRows,
      )
      expect(balances.get(s.id), `shopper ${i}`).toBe(expected)
    }
    console.info(
      `two origins: ${restarts} restarts of B in ${Math.round((Date.now() - started) / 1000)} s, ` +
        `${stats.failovers} refused connections sent to the other instance, statuses ${JSON.stringify(stats.statuses)}, ` +
        `${orders.length} orders (16 lost notifications), ${refunds.length} refunds with lost results, ` +
        `${giftRows.length} gifts (${giftRows.filter((g) => g.status === 'EXPIRED').length} expired by the jobs)`,
    )
  }, 120_000)
})
