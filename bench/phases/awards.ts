/**
 * Order creation (signed, straight at the origin, prepay at the sandbox), then one signed and
 * encrypted TRANSACTION.SUCCESS notification per order, and a check that each was awarded once.
 */
import type mysql from 'mysql2/promise'
import { buildNotification } from '../../sandbox/notifications.ts'
import { notificationKeys } from '../../sandbox/testing.ts'
import { idemKey, signedSpec } from '../lib/api.ts'
import {
  AWARD_CONNS,
  type BenchContext,
  log,
  ORDER_CONNS,
  RULE,
  settings,
  summary,
  WIDE_AWARD_CONNS,
} from '../lib/context.ts'
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
  const awardRun = await deliverAwards(ctx, created, AWARD_CONNS, 'award via callback')
  const redelivered = await closedLoop({
    baseUrl: s.origin.url,
    connections: AWARD_CONNS,
    next: (i) => (i < 200 ? awardRun.callbacks[i] : undefined),
  })
  const awardCheck = await verifyAwards(sql, created)
  log(
    `awards: verified PAID ${awardCheck.paid}/${created.length}, EARN transfers ${awardCheck.earnTransfers}, entries ${awardCheck.entries}, ` +
      `wrong points ${awardCheck.wrongPoints}; 200 duplicate deliveries → ${redelivered.statuses['204'] ?? 0}×204`,
  )
  const wide = await ordersInSql(sql, setup, settings.awardOrders)
  const wideRun = await deliverAwards(
    ctx,
    wide,
    WIDE_AWARD_CONNS,
    `award via callback, ${WIDE_AWARD_CONNS} concurrent`,
  )
  const wideCheck = await verifyAwards(sql, wide)
  log(
    `awards (${WIDE_AWARD_CONNS}): verified PAID ${wideCheck.paid}/${wide.length}, wrong points ${wideCheck.wrongPoints}`,
  )
  for (const [phase, run] of [
    ['award via callback', awardRun.run],
    [`award via callback, ${WIDE_AWARD_CONNS} concurrent`, wideRun.run],
  ] as const) {
    const commits = ctx.dbActivity[phase]?.counters.Com_commit ?? Number.NaN
    log(
      `awards: ${phase}: ${commits} commits for ${run.requests} awards (≈ ${Math.round((run.requests / commits) * 10) / 10} per transaction)`,
    )
  }
  return {
    orderRun,
    awardRun: awardRun.run,
    awardCheck: { ...awardCheck, ok: awardCheck.ok && wideCheck.ok },
    redelivered,
    wideRun: wideRun.run,
  }
}

type Callback = { method: string; path: string; headers: Record<string, string>; body: string }

/** One signed, encrypted TRANSACTION.SUCCESS notification per order (built before the clock starts), then all of them at `connections`. */
async function deliverAwards(ctx: BenchContext, orders: CreatedOrder[], connections: number, phase: string) {
  const s = ctx.stack
  const keys = notificationKeys(s.sandbox)
  log(`awards: building ${orders.length} signed, encrypted notifications (not timed)`)
  const callbacks: Callback[] = orders.map((o, i) => {
    const n = buildNotification(
      {
        eventType: 'TRANSACTION.SUCCESS',
        resource: {
          appid: s.sandbox.config.appid,
          mchid: s.sandbox.config.mchid,
          out_trade_no: o.outTradeNo,
          transaction_id: `42${String(connections).padStart(3, '0')}${String(i).padStart(23, '0')}`,
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
    )
    return { method: 'POST', path: '/api/payment/callback', headers: n.headers, body: n.body }
  })
  log(
    `awards: delivering ${callbacks.length} notifications to POST /api/payment/callback, ${connections} concurrent`,
  )
  const run = await ctx.measured(
    phase,
    () => closedLoop({ baseUrl: s.origin.url, connections, next: (i) => callbacks[i] }),
    {
      watchDb: true,
    },
  )
  log(`awards (${connections}): ${summary(run)}; 204s ${run.statuses['204'] ?? 0}/${callbacks.length}`)
  if (run.failureSamples) log(`awards: failures e.g. ${run.failureSamples[0]}`)
  return { run, callbacks }
}

/**
 * PENDING orders for the shoppers written straight into the database, as order creation leaves
 * them (the rule's snapshot, payable = amount): the wide run needs thousands more, and creating
 * them through the API and the sandbox's prepay is measured already.
 */
async function ordersInSql(sql: mysql.Connection, setup: Setup, count: number): Promise<CreatedOrder[]> {
  const [users] = await sql.query('SELECT id, openid FROM users WHERE openid IN (?)', [
    setup.shoppers.map((u) => u.openid),
  ])
  const shoppers = users as Array<{ id: number; openid: string }>
  const now = new Date()
  const expires = new Date(now.getTime() + 3600_000)
  const tag = Date.now().toString(36)
  const rows = Array.from({ length: count }, (_, i) => {
    const u = shoppers[i % shoppers.length]!
    const amount = 1000 + (i % 50) * 100
    return [
      `BW${tag}${i}`,
      u.id,
      Number(setup.merchantId),
      amount,
      amount,
      'PENDING',
      RULE.earnPoints,
      RULE.perFen,
      0,
      null,
      null,
      expires,
      now,
      now,
    ]
  })
  for (let i = 0; i < rows.length; i += 2000)
    await sql.query(
      `INSERT INTO orders (out_trade_no, user_id, merchant_id, amount_fen, payable_fen, status, rule_earn_points,
         rule_per_fen, rule_min_order_fen, rule_max_points_per_order, rule_daily_cap_per_user,
         expires_at, created_at, updated_at) VALUES ?`,
      [rows.slice(i, i + 2000)],
    )
  const [made] = await sql.query(
    'SELECT id, out_trade_no, amount_fen, user_id FROM orders WHERE out_trade_no LIKE ?',
    [`BW${tag}%`],
  )
  const openidOf = new Map(shoppers.map((u) => [u.id, u.openid]))
  return (made as Array<{ id: number; out_trade_no: string; amount_fen: number; user_id: number }>).map(
    (o) => ({
      id: String(o.id),
      outTradeNo: o.out_trade_no,
      amountFen: Number(o.amount_fen),
      openid: openidOf.get(o.user_id)!,
    }),
  )
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
