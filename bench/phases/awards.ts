/**
 * Order creation (signed, straight at the origin, prepay at the sandbox), then one signed and
 * encrypted TRANSACTION.SUCCESS notification per order, and a check that each was awarded once.
 */
import type mysql from 'mysql2/promise'
import { buildNotification } from '../../sandbox/notifications.ts'
import { notificationKeys } from '../../sandbox/testing.ts'
import { idemKey, signedSpec } from '../lib/api.ts'
import { AWARD_CONNS, type BenchContext, log, ORDER_CONNS, RULE, settings, summary } from '../lib/context.ts'
import { closedLoop } from '../lib/load.ts'
import type { Setup } from './setup.ts'

interface CreatedOrder {
  id: string
  outTradeNo: string
  amountFen: number
  openid: string
}

export async function ordersAndAwards(ctx: BenchContext, setup: Setup, sql: mysql.Connection) {
  const { stack: s, signer } = ctx
  const { shoppers, merchantId } = setup
  const created: CreatedOrder[] = []
  const orderSpec = (i: number) =>
    signedSpec(signer, 'POST', '/api/orders', {
      token: shoppers[i % shoppers.length]!.token,
      body: { merchantId, amountFen: 1000 + (i % 50) * 100 },
      idempotencyKey: idemKey(),
    })
  const keepOrder = (i: number, status: number, body: string) => {
    if (status !== 201) return
    const o = JSON.parse(body) as { id: string; outTradeNo: string; amountFen: number }
    created.push({
      id: o.id,
      outTradeNo: o.outTradeNo,
      amountFen: o.amountFen,
      openid: shoppers[i % shoppers.length]!.openid,
    })
  }
  log(
    `orders: POST /api/orders (Idempotency-Key, prepay at the sandbox), ${ORDER_CONNS} concurrent, ${settings.seconds}s`,
  )
  const orderRun = await ctx.measured(
    'order creation',
    () =>
      closedLoop({
        baseUrl: s.origin.url,
        connections: ORDER_CONNS,
        durationS: settings.seconds,
        next: orderSpec,
        onAnswer: keepOrder,
      }),
    { watchDb: true },
  )
  log(`orders: ${summary(orderRun)}`)
  if (orderRun.failureSamples) log(`orders: failures e.g. ${orderRun.failureSamples[0]}`)

  if (created.length < settings.awardOrders) {
    const missing = settings.awardOrders - created.length
    log(`awards: creating ${missing} more orders through the API (not timed)`)
    let made = 0
    await closedLoop({
      baseUrl: s.origin.url,
      connections: ORDER_CONNS,
      next: (i) => (made++ < missing ? orderSpec(i + 1_000_000) : undefined),
      onAnswer: (i, status, body) => keepOrder(i + 1_000_000, status, body),
    })
  }
  const keys = notificationKeys(s.sandbox)
  log(`awards: building ${created.length} signed, encrypted notifications (not timed)`)
  const notifications = created.map((o, i) =>
    buildNotification(
      {
        eventType: 'TRANSACTION.SUCCESS',
        resource: {
          appid: s.sandbox.config.appid,
          mchid: s.sandbox.config.mchid,
          out_trade_no: o.outTradeNo,
          transaction_id: `42000${String(i).padStart(23, '0')}`,
          trade_type: 'JSAPI',
          trade_state: 'SUCCESS',
          trade_state_desc: '支付成功',
          bank_type: 'OTHERS',
          success_time: new Date().toISOString(),
          attach: o.id,
          payer: { openid: o.openid },
          amount: { total: o.amountFen, payer_total: o.amountFen, currency: 'CNY', payer_currency: 'CNY' },
        },
      },
      keys,
    ),
  )
  const callbackSpec = (i: number) => {
    const n = notifications[i]
    return n && { method: 'POST', path: '/api/payment/callback', headers: n.headers, body: n.body }
  }
  log(
    `awards: delivering ${notifications.length} notifications to POST /api/payment/callback, ${AWARD_CONNS} concurrent`,
  )
  const awardRun = await ctx.measured(
    'award via callback',
    () => closedLoop({ baseUrl: s.origin.url, connections: AWARD_CONNS, next: callbackSpec }),
    { watchDb: true },
  )
  log(`awards: ${summary(awardRun)}; 204s ${awardRun.statuses['204'] ?? 0}/${notifications.length}`)
  if (awardRun.failureSamples) log(`awards: failures e.g. ${awardRun.failureSamples[0]}`)
  const redelivered = await closedLoop({
    baseUrl: s.origin.url,
    connections: AWARD_CONNS,
    next: (i) => (i < 200 ? callbackSpec(i) : undefined),
  })
  const awardCheck = await verifyAwards(sql, created)
  log(
    `awards: verified PAID ${awardCheck.paid}/${created.length}, EARN transfers ${awardCheck.earnTransfers}, entries ${awardCheck.entries}, ` +
      `wrong points ${awardCheck.wrongPoints}; 200 duplicate deliveries → ${redelivered.statuses['204'] ?? 0}×204`,
  )
  return { orderRun, awardRun, awardCheck, redelivered }
}

/** Every delivered order is PAID once, with its one EARN transfer (two entries) and the rule's points. */
async function verifyAwards(
  sql: mysql.Connection,
  orders: Array<{ id: string; amountFen: number }>,
): Promise<{ paid: number; earnTransfers: number; entries: number; wrongPoints: number; ok: boolean }> {
  if (orders.length === 0) return { paid: 0, earnTransfers: 0, entries: 0, wrongPoints: 0, ok: false }
  const ids = orders.map((o) => Number(o.id))
  const expected = new Map(
    orders.map((o) => [Number(o.id), Math.floor(o.amountFen / RULE.perFen) * RULE.earnPoints]),
  )
  const [paidRows] = await sql.query(
    "SELECT id, points_awarded FROM orders WHERE id IN (?) AND status = 'PAID'",
    [ids],
  )
  const paid = paidRows as Array<{ id: number; points_awarded: number }>
  const wrongPoints = paid.filter((r) => Number(r.points_awarded) !== expected.get(Number(r.id))).length
  const keys = ids.map((id) => `EARN:${id}`)
  const [[t]] = (await sql.query('SELECT COUNT(*) AS n FROM transfers WHERE business_key IN (?)', [
    keys,
  ])) as unknown as [Array<{ n: number }>]
  const [[e]] = (await sql.query(
    'SELECT COUNT(*) AS n FROM ledger_entries e JOIN transfers t ON t.id = e.transfer_id WHERE t.business_key IN (?)',
    [keys],
  )) as unknown as [Array<{ n: number }>]
  const earnTransfers = Number(t!.n)
  const entries = Number(e!.n)
  const ok =
    paid.length === orders.length &&
    earnTransfers === orders.length &&
    entries === 2 * orders.length &&
    wrongPoints === 0
  return { paid: paid.length, earnTransfers, entries, wrongPoints, ok }
}
