/**
 * Shared by the k6 scripts in loadtest/: settings from `-e`, JSON request helpers, and the setup
 * that creates a fresh ACTIVE merchant through the public API, so every script runs against any
 * fresh stack without seeding the database by hand.
 *
 * This is a k6 module, not Node: only k6's built-in modules, no npm packages, and syntax that k6's
 * JavaScript engine has accepted since v0.45 (no optional chaining, `??`, async or object spread).
 */
import { check, sleep } from 'k6'
import http from 'k6/http'
import { Counter } from 'k6/metrics'

const trimSlash = (url) => url.replace(/\/+$/, '')

/** The edge: everything the mini-program and the consoles call goes through it. */
export const BASE_URL = trimSlash(__ENV.BASE_URL || 'http://127.0.0.1:8787')
/** The local WeChat sandbox (API.md §10): it plays the payer and WeChat Pay's notifications. */
export const SANDBOX_URL = trimSlash(__ENV.SANDBOX_URL || 'http://127.0.0.1:8090')
/** Must be one of the origin's ADMIN_OPENIDS; `npm run dev` makes `admin` the admin. */
export const ADMIN_OPENID = __ENV.ADMIN_OPENID || 'admin'

/**
 * The rule the pay script's assertions are computed from. Set explicitly rather than relying on the
 * server's default rule, so a changed default cannot turn into a wave of failed checks.
 */
export const RULE = {
  earnPoints: 1,
  perFen: 100,
  minOrderFen: 0,
  maxPointsPerOrder: null,
  dailyCapPerUser: null,
}

/** Reads a number ≥ 0 from `-e NAME=`, falling back when unset or not such a number. */
export function numberEnv(name, fallback) {
  const raw = __ENV[name]
  const value = Number(raw)
  return raw !== undefined && raw !== '' && value >= 0 ? value : fallback
}

/** Reads a k6 duration string (`60s`, `5m`) from `-e NAME=`. */
export function durationEnv(name, fallback) {
  return __ENV[name] || fallback
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Not cryptographic, and need not be: keys and openids only have to be unique for one run. */
export function randomString(length) {
  let out = ''
  for (let i = 0; i < length; i++) out += ALNUM.charAt(Math.floor(Math.random() * ALNUM.length))
  return out
}

export function randomInt(min, max) {
  return min + Math.floor(Math.random() * (max - min + 1))
}

/** Fits the contract's `[A-Za-z0-9_-]{8,64}`; 24 random alnum characters make collisions moot. */
export function idempotencyKey() {
  return `lt-${randomString(24)}`
}

/** A fresh WeChat identity; the sandbox accepts openids of `[A-Za-z0-9_-]{1,64}`. */
export function newOpenid(prefix) {
  return `${prefix}-${randomString(16)}`
}

/**
 * Counts 429s separately: with the default edge limits a load run is throttled within seconds, and
 * the failure summary then looks like a slow or broken backend unless this says otherwise.
 */
export const rateLimited = new Counter('rate_limited')
let warnedRateLimit = false

function noteRateLimit(res) {
  if (res.status !== 429) return
  rateLimited.add(1)
  if (!warnedRateLimit) {
    warnedRateLimit = true
    console.warn(
      'edge answered 429 RATE_LIMITED: restart the stack with higher RATE_LIMIT_IP_MAX, ' +
        'RATE_LIMIT_LOGIN_MAX and RATE_LIMIT_WRITE_MAX (see loadtest/README.md)',
    )
  }
}

/** The body as JSON, or null: a 502 from a proxy or an HTML error page must fail a check, not the VU. */
export function json(res) {
  try {
    return res.json()
  } catch (_notJson) {
    return null
  }
}

/** Header lookup that does not depend on how this k6 version spells header names. */
export function header(res, name) {
  const wanted = name.toLowerCase()
  for (const key in res.headers) if (key.toLowerCase() === wanted) return res.headers[key]
  return undefined
}

/**
 * Builds the request params for an edge API call. `name` groups URLs that carry ids under one
 * metric series (k6 would otherwise make a time series per order id); `target` separates edge
 * latency, which the thresholds judge, from the sandbox's, which stands in for WeChat.
 */
export function apiParams(opts) {
  const o = opts || {}
  const headers = { Accept: 'application/json' }
  if (o.body !== undefined) headers['Content-Type'] = 'application/json'
  if (o.token) headers.Authorization = `Bearer ${o.token}`
  if (o.idempotencyKey) headers['Idempotency-Key'] = o.idempotencyKey
  const tags = Object.assign({ target: 'edge' }, o.tags || {})
  if (o.name) tags.name = o.name
  return { headers: headers, tags: tags }
}

/**
 * One JSON call to the edge. opts: token, body, idempotencyKey, name (metric name for paths with
 * ids), tags.
 */
export function api(method, path, opts) {
  const o = opts || {}
  const body = o.body === undefined ? null : JSON.stringify(o.body)
  const res = http.request(method, `${BASE_URL}${path}`, body, apiParams(o))
  noteRateLimit(res)
  return res
}

/**
 * Same request shape as api(), for http.batch().
 * @returns {import('k6/http').ArrayBatchRequest}
 */
export function batchRequest(method, path, opts) {
  const o = opts || {}
  const body = o.body === undefined ? null : JSON.stringify(o.body)
  return [method, `${BASE_URL}${path}`, body, apiParams(o)]
}

/** Marks an order paid at the sandbox, which then delivers the signed notification to the origin. */
export function sandboxPay(outTradeNo) {
  return http.post(`${SANDBOX_URL}/sandbox/pay`, JSON.stringify({ outTradeNo: outTradeNo }), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'POST /sandbox/pay', target: 'sandbox' },
  })
}

/** Logs in as `code-<openid>` (API.md §10); returns the token and the user as the API reports it. */
export function login(openid, tags) {
  const res = api('POST', '/api/auth/login', { body: { code: `code-${openid}` }, tags: tags })
  const body = json(res)
  const ok = check(res, {
    'login: 200': (r) => r.status === 200,
    'login: token issued': () => body !== null && typeof body.token === 'string',
  })
  if (!ok) return null
  return { openid: openid, token: body.token, userId: body.user.id, roles: body.user.roles }
}

/** Logs in many users at once, a batch at a time so the setup does not stampede the login limit. */
export function loginMany(openids, batchSize) {
  const size = batchSize || 20
  const users = []
  for (let i = 0; i < openids.length; i += size) {
    const chunk = openids.slice(i, i + size)
    const responses = http.batch(
      chunk.map((openid) => batchRequest('POST', '/api/auth/login', { body: { code: `code-${openid}` } })),
    )
    for (let j = 0; j < chunk.length; j++) {
      const body = expectStatus(responses[j], 200, `login ${chunk[j]}`)
      users.push({ openid: chunk[j], token: body.token, userId: body.user.id })
    }
  }
  return users
}

const HINTS = {
  0: 'no HTTP answer: is the stack running (npm run dev) and BASE_URL right?',
  401: 'is the edge using the same JWT_SECRET as the origin?',
  403: 'is ADMIN_OPENID one of the origin ADMIN_OPENIDS (default "admin" under npm run dev)?',
  429: 'raise RATE_LIMIT_IP_MAX, RATE_LIMIT_LOGIN_MAX and RATE_LIMIT_WRITE_MAX for load runs',
}

/**
 * Setup steps must not fail quietly: a script measuring against a merchant that was never approved
 * would report nothing but 422s. Throwing here makes k6 stop before any load is sent.
 */
export function expectStatus(res, status, what) {
  noteRateLimit(res)
  if (res.status === status) return json(res)
  const hint = HINTS[res.status] ? ` (${HINTS[res.status]})` : ''
  const detail = res.error ? res.error : String(res.body).slice(0, 300)
  throw new Error(`setup: ${what} answered ${res.status}, expected ${status}${hint}: ${detail}`)
}

function setupLogin(openid, what) {
  const res = api('POST', '/api/auth/login', { body: { code: `code-${openid}` } })
  const body = expectStatus(res, 200, what)
  return { token: body.token, userId: body.user.id, roles: body.user.roles, merchantId: body.user.merchantId }
}

/**
 * Creates an ACTIVE merchant through the API: a fresh owner applies, the admin approves, and the
 * owner logs in again because roles are carried in the token, so only a token issued after the
 * approval says merchant_owner. Call it from a script's setup(); the result is its setup data.
 *
 * opts.rule: the points rule to put in force (omit or null to keep the server's default).
 */
export function setupMerchant(opts) {
  const o = opts || {}
  const ownerOpenid = newOpenid('lt-owner')
  const applicant = setupLogin(ownerOpenid, 'owner login')

  const applied = expectStatus(
    api('POST', '/api/merchants/applications', {
      token: applicant.token,
      body: {
        name: `Load test ${randomString(6)}`,
        description: 'Created by loadtest/lib/setup.js',
        contactPhone: '13800138000',
      },
    }),
    201,
    'POST /api/merchants/applications',
  )
  const merchantId = applied.merchantId

  const admin = setupLogin(ADMIN_OPENID, `admin login (openid "${ADMIN_OPENID}")`)
  if (admin.roles.indexOf('admin') < 0) {
    throw new Error(
      `setup: openid "${ADMIN_OPENID}" has no admin role; pass -e ADMIN_OPENID=<one of ADMIN_OPENIDS>`,
    )
  }
  expectStatus(
    api('POST', `/api/admin/merchants/${merchantId}/approve`, { token: admin.token }),
    200,
    `approve merchant ${merchantId}`,
  )

  const owner = setupLogin(ownerOpenid, 'owner re-login')
  if (owner.roles.indexOf('merchant_owner') < 0 || owner.merchantId !== merchantId) {
    throw new Error(
      `setup: after approval the owner token has roles ${JSON.stringify(owner.roles)} ` +
        `and merchant ${owner.merchantId}, expected merchant_owner of ${merchantId}`,
    )
  }

  if (o.rule)
    expectStatus(api('PUT', '/api/merchant/rule', { token: owner.token, body: o.rule }), 200, 'PUT rule')

  return {
    merchantId: merchantId,
    ownerToken: owner.token,
    adminToken: admin.token,
    ownerUserId: owner.userId,
  }
}

/**
 * Gives every user `points` as merchant grants, a batch at a time. Grants rather than admin
 * adjustments because that is how points normally enter a wallet besides purchases, and it puts
 * the merchant's issuance account under the same load as in production.
 */
export function grantPoints(ownerToken, userIds, points, batchSize) {
  const size = batchSize || 20
  for (let i = 0; i < userIds.length; i += size) {
    const chunk = userIds.slice(i, i + size)
    const responses = http.batch(
      chunk.map((userId) =>
        batchRequest('POST', '/api/merchant/grants', {
          token: ownerToken,
          idempotencyKey: idempotencyKey(),
          body: { userId: userId, points: points, reason: 'load test float' },
        }),
      ),
    )
    for (let j = 0; j < chunk.length; j++) expectStatus(responses[j], 201, `grant to user ${chunk[j]}`)
  }
}

/** Think time between a user's iterations (-e THINK_S=, default 1); 0 turns a script into a stress test. */
export const THINK_S = numberEnv('THINK_S', 1)

export function think() {
  if (THINK_S > 0) sleep(THINK_S)
}

/** Latency percentiles shown in the end-of-test summary; p(99) shows the tail the p95 hides. */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)']
