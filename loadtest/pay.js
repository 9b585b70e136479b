/**
 * The purchase loop, once per iteration as a brand-new customer: log in, create an order, pay it
 * at the WeChat sandbox (which delivers the signed notification to the origin), poll the order until
 * it is PAID, then read the balance and the points records the payment produced.
 *
 * A fresh user per iteration keeps the assertions exact: the user's only points are this order's,
 * so the balance and the single EARN record must equal the order's pointsAwarded, and any lost,
 * doubled or misattributed award shows up as a failed check rather than as noise.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8787 -e SANDBOX_URL=http://127.0.0.1:8090 loadtest/pay.js
 *
 * Options (-e): VUS (20), DURATION (60s), THINK_S pause between iterations (1), POLL_TRIES (50),
 * POLL_INTERVAL_MS (100), ADMIN_OPENID (admin).
 */
import { check, group, sleep } from 'k6'
import { Trend } from 'k6/metrics'
import {
  api,
  durationEnv,
  idempotencyKey,
  json,
  login,
  newOpenid,
  numberEnv,
  RULE,
  randomInt,
  SUMMARY_TREND_STATS,
  sandboxPay,
  setupMerchant,
  think,
} from './lib/setup.js'
import { summaryHandler } from './lib/summary.js'

const POLL_TRIES = numberEnv('POLL_TRIES', 50)
const POLL_INTERVAL_S = numberEnv('POLL_INTERVAL_MS', 100) / 1000

/**
 * From asking the sandbox to pay until the payer's poll first sees PAID: notification delivery,
 * signature check, decryption, the ledger write and read-your-write on the order, end to end.
 */
const payToPaid = new Trend('pay_to_paid_ms', true)

export const options = {
  scenarios: {
    pay: {
      executor: 'constant-vus',
      vus: numberEnv('VUS', 20),
      duration: durationEnv('DURATION', '60s'),
    },
  },
  thresholds: {
    // Edge requests of the loop only: the setup is not user traffic, and the sandbox call stands in
    // for WeChat (it also waits for the notification to be processed, which pay_to_paid_ms covers).
    'http_req_duration{scenario:pay,target:edge}': ['p(95)<200'],
    'http_req_failed{scenario:pay}': ['rate<0.001'],
    // Money and points: at most one failed assertion in a thousand, and each one is worth a look.
    checks: ['rate>0.999'],
    // The notification is delivered before the sandbox answers, so PAID should be visible on the
    // first poll; a second is generous and still far below the 5 s after which polling queries WeChat.
    pay_to_paid_ms: ['p(95)<1000'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
}

/** The JSON summary beside the text one (lib/summary.js). */
export const handleSummary = summaryHandler('pay')

export function setup() {
  return setupMerchant({ rule: RULE })
}

/** What the rule set in setup() awards; minOrderFen is 0 and there are no caps. */
const pointsFor = (amountFen) => Math.floor(amountFen / RULE.perFen) * RULE.earnPoints

export default function (data) {
  let user = null
  group('login', () => {
    user = login(newOpenid('lt-payer'))
  })
  if (user === null) return

  // At least one perFen, so every order earns points and leaves an EARN record to check.
  const amountFen = randomInt(RULE.perFen, 100000)
  let order = null
  group('create order', () => {
    const key = idempotencyKey()
    const request = {
      token: user.token,
      idempotencyKey: key,
      body: { merchantId: data.merchantId, amountFen: amountFen },
    }
    const res = api('POST', '/api/orders', request)
    order = json(res)
    const created = check(res, {
      'order: 201': (r) => r.status === 201,
      'order: PENDING with outTradeNo': () =>
        order !== null && order.status === 'PENDING' && typeof order.outTradeNo === 'string',
      'order: expectedPoints follows the rule': () =>
        order !== null && order.expectedPoints === pointsFor(amountFen),
      'order: payParams to sign with': () =>
        order !== null &&
        typeof order.payParams === 'object' &&
        order.payParams !== null &&
        order.payParams.signType === 'RSA',
    })
    if (!created) {
      order = null
      return
    }
    // A mini-program on a flaky network resends with the same key; it must get the same order back.
    const replay = api('POST', '/api/orders', request)
    const again = json(replay)
    check(replay, {
      'order replay: same status and order': (r) =>
        r.status === 201 && again !== null && again.id === order.id,
    })
  })
  if (order === null) return

  let paid = null
  group('pay', () => {
    const started = Date.now()
    const res = sandboxPay(order.outTradeNo)
    check(res, { 'sandbox pay: 200': (r) => r.status === 200 })
    if (res.status !== 200) return
    // Bounded: a notification the origin lost must fail this iteration, not hang the VU.
    for (let i = 0; i < POLL_TRIES; i++) {
      const view = json(
        api('GET', `/api/orders/${order.id}`, { token: user.token, name: 'GET /api/orders/:id' }),
      )
      if (view !== null && view.status === 'PAID') {
        paid = view
        payToPaid.add(Date.now() - started)
        break
      }
      sleep(POLL_INTERVAL_S)
    }
    check(paid, {
      'order: PAID seen while polling': (p) => p !== null,
      'order: awarded the expected points': (p) => p !== null && p.pointsAwarded === order.expectedPoints,
      'order: amount unchanged, nothing refunded': (p) =>
        p !== null && p.amountFen === amountFen && p.refundedFen === 0,
    })
  })
  if (paid === null) return

  group('points', () => {
    const balanceRes = api('GET', '/api/points/balance', { token: user.token })
    const balance = json(balanceRes)
    check(balanceRes, {
      'balance: 200': (r) => r.status === 200,
      'balance: exactly the points of this order': () =>
        balance !== null &&
        balance.balance === paid.pointsAwarded &&
        balance.totalEarned === paid.pointsAwarded &&
        balance.heldInGifts === 0,
    })

    const recordsRes = api('GET', '/api/points/records', { token: user.token })
    const records = json(recordsRes)
    check(recordsRes, {
      'records: 200': (r) => r.status === 200,
      // Guarded by the status: an error body has no `items` to look into.
      'records: one EARN at this merchant': (r) =>
        r.status === 200 &&
        records.items.length === 1 &&
        records.items[0].kind === 'EARN' &&
        records.items[0].delta === paid.pointsAwarded &&
        records.items[0].balanceAfter === paid.pointsAwarded &&
        records.items[0].merchantId === data.merchantId,
    })
  })

  think()
}
