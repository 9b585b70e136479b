/**
 * Gifting between many users: each VU owns two users who keep sending each other gifts (create,
 * look up by code, claim), with a share of gifts cancelled by their sender instead. The setup logs
 * in every pair and funds both users with a merchant grant before any load starts.
 *
 * Each pair belongs to exactly one VU, so nobody else moves its points and every step can be
 * checked exactly: the sender's balance drops by the gift at once (held), a claim moves it to the
 * receiver, a cancel gives it back. teardown() then checks that no pair gained or lost a point.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8787 -e SANDBOX_URL=http://127.0.0.1:8090 loadtest/gifts.js
 *
 * Options (-e): VUS (20), DURATION (60s), THINK_S pause between iterations (1), GRANT_POINTS per
 * user (100000), CANCEL_PERCENT of gifts cancelled instead of claimed (10), ADMIN_OPENID (admin).
 */
import { check, group } from 'k6'
import http from 'k6/http'
import { Counter } from 'k6/metrics'
import {
  api,
  batchRequest,
  durationEnv,
  expectStatus,
  grantPoints,
  idempotencyKey,
  json,
  loginMany,
  newOpenid,
  numberEnv,
  randomInt,
  SUMMARY_TREND_STATS,
  setupMerchant,
  think,
} from './lib/setup.js'
import { summaryHandler } from './lib/summary.js'

const VUS = numberEnv('VUS', 20)
const GRANT_POINTS = numberEnv('GRANT_POINTS', 100000)
const CANCEL_PERCENT = numberEnv('CANCEL_PERCENT', 10)

const claimed = new Counter('gifts_claimed')
const cancelled = new Counter('gifts_cancelled')

export const options = {
  scenarios: {
    gifts: {
      executor: 'constant-vus',
      vus: VUS,
      duration: durationEnv('DURATION', '60s'),
    },
  },
  // Same targets as the pay loop: these are interactive requests a user waits on.
  thresholds: {
    'http_req_duration{scenario:gifts}': ['p(95)<200'],
    'http_req_failed{scenario:gifts}': ['rate<0.001'],
    checks: ['rate>0.999'],
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  // Logging in and funding two users per VU takes a while for large VU counts.
  setupTimeout: '5m',
}

/** The JSON summary beside the text one (lib/summary.js). */
export const handleSummary = summaryHandler('gifts')

export function setup() {
  const merchant = setupMerchant()
  const openids = []
  for (let i = 0; i < 2 * VUS; i++) openids.push(newOpenid('lt-gifter'))
  const users = loginMany(openids)
  grantPoints(
    merchant.ownerToken,
    users.map((u) => u.userId),
    GRANT_POINTS,
  )
  const pairs = []
  for (let i = 0; i < VUS; i++) pairs.push([users[2 * i], users[2 * i + 1]])
  return { merchantId: merchant.merchantId, pairs: pairs }
}

function readBalance(user) {
  const res = api('GET', '/api/points/balance', { token: user.token })
  return res.status === 200 ? json(res) : null
}

export default function (data) {
  // __VU counts from 1 and constant-vus never reuses a number, so each pair has one driver.
  const pair = data.pairs[(__VU - 1) % data.pairs.length]
  // Alternate direction so both balances stay near the grant however long the run.
  const sender = __ITER % 2 === 0 ? pair[0] : pair[1]
  const receiver = __ITER % 2 === 0 ? pair[1] : pair[0]
  const points = randomInt(1, 100)
  const cancel = Math.random() * 100 < CANCEL_PERCENT

  // Read rather than tracked locally, so one failed step cannot cascade into every later check.
  const before = readBalance(sender)
  if (before === null) {
    check(null, { 'balance: readable': () => false })
    return
  }

  let gift = null
  group('create gift', () => {
    const res = api('POST', '/api/points/gifts', {
      token: sender.token,
      idempotencyKey: idempotencyKey(),
      body: { points: points, message: 'load test' },
    })
    gift = json(res)
    const ok = check(res, {
      'gift: 201': (r) => r.status === 201,
      'gift: PENDING with a code': () =>
        gift !== null && gift.status === 'PENDING' && gift.points === points && typeof gift.code === 'string',
    })
    if (!ok) gift = null
  })
  if (gift === null) return

  group('open gift', () => {
    const res = api('GET', `/api/points/gifts/${gift.code}`, {
      token: receiver.token,
      name: 'GET /api/points/gifts/:code',
    })
    const view = json(res)
    check(res, {
      'gift view: 200': (r) => r.status === 200,
      'gift view: PENDING, same points': () =>
        view !== null && view.status === 'PENDING' && view.points === points,
    })
  })

  group(cancel ? 'cancel gift' : 'claim gift', () => {
    if (cancel) {
      const res = api('POST', `/api/points/gifts/${gift.id}/cancel`, {
        token: sender.token,
        name: 'POST /api/points/gifts/:id/cancel',
      })
      const body = json(res)
      const ok = check(res, {
        'cancel: 200': (r) => r.status === 200,
        // Guarded by the status: an error body has no `gift` to look into.
        'cancel: CANCELLED, points back with the sender': (r) =>
          r.status === 200 && body.gift.status === 'CANCELLED' && body.balance === before.balance,
      })
      if (ok) cancelled.add(1)
    } else {
      const res = api('POST', `/api/points/gifts/${gift.code}/claim`, {
        token: receiver.token,
        name: 'POST /api/points/gifts/:code/claim',
      })
      const body = json(res)
      const ok = check(res, {
        'claim: 200': (r) => r.status === 200,
        'claim: CLAIMED': (r) => r.status === 200 && body.gift.status === 'CLAIMED',
      })
      if (ok) claimed.add(1)
    }
  })

  const after = readBalance(sender)
  check(after, {
    'sender balance: down by exactly the claimed gift': (b) =>
      b !== null &&
      b.balance === before.balance - (cancel ? 0 : points) &&
      b.heldInGifts === before.heldInGifts,
  })

  think()
}

/**
 * Conservation: gifts only move points inside a pair, so each pair's balances plus what is still
 * held in pending gifts (an iteration cut off at the end of the run) must equal the two grants.
 */
export function teardown(data) {
  const users = []
  for (let i = 0; i < data.pairs.length; i++) users.push(data.pairs[i][0], data.pairs[i][1])
  const responses = http.batch(
    users.map((u) => batchRequest('GET', '/api/points/balance', { token: u.token })),
  )
  const totals = responses.map((res, i) => {
    const b = expectStatus(res, 200, `balance of user ${users[i].userId}`)
    return b.balance + b.heldInGifts
  })
  const unbalanced = []
  for (let i = 0; i < data.pairs.length; i++) {
    const total = totals[2 * i] + totals[2 * i + 1]
    if (total !== 2 * GRANT_POINTS) unbalanced.push(`pair ${i}: ${total}`)
  }
  if (unbalanced.length > 0)
    console.error(`points not conserved (expected ${2 * GRANT_POINTS}): ${unbalanced.join(', ')}`)
  check(unbalanced, { 'teardown: every pair holds exactly its two grants': (u) => u.length === 0 })
}
