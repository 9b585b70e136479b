/**
 * Subscribe messages through the transactional outbox (API.md §15), against the sandbox's
 * subscribe/send: written with the award or gift claim, sent within 2 job intervals, once; retried
 * while WeChat is down, also across an origin crash; 43101 final; nothing when no template is set.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../sandbox/testing.ts'
import { type ApiClient, apiClient } from './harness/client.ts'
import { activeMerchant, adminToken, idemKey, uniqueOpenid } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

const JOB_INTERVAL_MS = 200
const SEND_PATH = '/cgi-bin/message/subscribe/send'
const TEMPLATES = {
  WECHAT_TEMPLATE_POINTS_EARNED: 'tpl-earned-1',
  WECHAT_TEMPLATE_GIFT_CLAIMED: 'tpl-gift-1',
}
/** Time a loaded 2-core test machine may add to the contract's bound (HTTP round trips, a busy job run). */
const LOAD_ALLOWANCE_MS = 1000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function setUp(api: ApiClient, mode: string) {
  const m = await activeMerchant(api, 'Bakery')
  await api.put(
    '/api/merchant/rule',
    { earnPoints: 1, perFen: 10, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
    { token: m.ownerToken },
  )
  if (mode === 'partner') {
    await api.put(
      `/api/admin/merchants/${m.merchantId}/payment`,
      { subMchid: `19${m.merchantId.padStart(6, '0')}` },
      { token: await adminToken(api) },
    )
  }
  return m
}

async function paidBy(
  stack: Stack,
  api: ApiClient,
  merchantId: string,
  amountFen: number,
  opts: Record<string, unknown> = {},
) {
  const openid = uniqueOpenid('shopper')
  const u = await api.login(openid)
  const o = await api.post(
    '/api/orders',
    { merchantId, amountFen },
    { token: u.token, idempotencyKey: idemKey() },
  )
  expect(o.status).toBe(201)
  await control(stack.sandbox, 'POST', '/pay', { outTradeNo: o.body.outTradeNo, ...opts })
  return { openid, token: u.token, id: u.user.id, paidAtMs: Date.now() }
}

const messagesTo = async (stack: Stack, openid: string) =>
  (
    await control<{ items: Array<{ receivedAt: string; body: any }> }>(
      stack.sandbox,
      'GET',
      '/subscribe-messages',
    )
  ).json.items.filter((m) => m.body.touser === openid)

async function waitForMessages(stack: Stack, openid: string, count: number, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const got = await messagesTo(stack, openid)
    if (got.length >= count || Date.now() > deadline) return { got, atMs: Date.now() }
    await sleep(20)
  }
}

const sendAttempts = async (stack: Stack, openid: string) =>
  (
    await control<{ items: Array<{ body: string; status?: number }> }>(
      stack.sandbox,
      'GET',
      `/requests?pathPrefix=${encodeURIComponent(SEND_PATH)}`,
    )
  ).json.items.filter((r) => r.body.includes(openid))

describe.each(['direct', 'partner'] as const)('subscribe messages in %s mode', (mode) => {
  let stack: Stack
  let api: ApiClient

  beforeAll(async () => {
    stack = await startStack({
      env: { WECHAT_PAY_MODE: mode, JOB_INTERVAL_MS: String(JOB_INTERVAL_MS), ...TEMPLATES },
    })
    api = apiClient(stack.origin.url)
  })
  afterEach(async () => {
    await control(stack.sandbox, 'DELETE', '/faults')
    expect(await invariants(stack)).toEqual(HOLDS)
  })
  afterAll(async () => {
    expect(stack.origin.output()).not.toContain('unhandled error')
    await stack?.close()
  })

  it('tells the payer about earned points once, within 2 job intervals, however often WeChat notifies', async () => {
    const m = await setUp(api, mode)
    const s = await paidBy(stack, api, m.merchantId, 1230, { duplicates: 10 })
    const { got, atMs } = await waitForMessages(stack, s.openid, 1)
    expect(got).toHaveLength(1)
    expect(atMs - s.paidAtMs).toBeLessThan(2 * JOB_INTERVAL_MS + LOAD_ALLOWANCE_MS)
    expect(got[0]!.body).toEqual({
      touser: s.openid,
      template_id: 'tpl-earned-1',
      page: 'pages/points/index',
      data: {
        thing1: { value: 'Bakery' },
        number2: { value: '123' },
        time3: { value: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/) },
      },
    })
    await sleep(4 * JOB_INTERVAL_MS)
    expect(await messagesTo(stack, s.openid)).toHaveLength(1)
  })

  it('tells a gift’s sender when it is claimed', async () => {
    const m = await setUp(api, mode)
    const sender = await paidBy(stack, api, m.merchantId, 500)
    const gift = await api.post(
      '/api/points/gifts',
      { points: 20, message: 'for you' },
      { token: sender.token, idempotencyKey: idemKey() },
    )
    expect(gift.status).toBe(201)
    const friend = await api.login(uniqueOpenid('friend'))
    await api.patch('/api/me', { nickname: 'Xiao Ming' }, { token: friend.token })
    expect(
      (await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, { token: friend.token }))
        .status,
    ).toBe(200)
    const { got } = await waitForMessages(stack, sender.openid, 2)
    const claimed = got.filter((x) => x.body.template_id === 'tpl-gift-1')
    expect(claimed).toHaveLength(1)
    expect(claimed[0]!.body.data).toMatchObject({ thing1: { value: 'Xiao Ming' }, number2: { value: '20' } })
  })

  it('retries while WeChat answers 5xx or errcode -1, and 43101 is final', async () => {
    const m = await setUp(api, mode)
    await control(stack.sandbox, 'POST', '/faults', { pathPrefix: SEND_PATH, status: 503, times: 2 })
    await control(stack.sandbox, 'POST', '/faults', {
      pathPrefix: SEND_PATH,
      status: 200,
      body: { errcode: -1, errmsg: 'system error' },
      times: 1,
    })
    const s = await paidBy(stack, api, m.merchantId, 300)
    const { got } = await waitForMessages(stack, s.openid, 1, 10_000)
    expect(got).toHaveLength(1)
    expect((await sendAttempts(stack, s.openid)).map((a) => a.status)).toEqual([503, 503, 200, 200])

    const refusing = uniqueOpenid('nosub')
    await control(stack.sandbox, 'POST', '/subscribe/refuse', { openid: refusing })
    const u = await api.login(refusing)
    const o = await api.post(
      '/api/orders',
      { merchantId: m.merchantId, amountFen: 100 },
      { token: u.token, idempotencyKey: idemKey() },
    )
    await control(stack.sandbox, 'POST', '/pay', { outTradeNo: o.body.outTradeNo })
    await sleep(6 * JOB_INTERVAL_MS)
    expect(await sendAttempts(stack, refusing)).toHaveLength(1)
    const [[row]] = (await stack.db.primary.execute(
      `SELECT status FROM outbox WHERE dedupe_key = 'points_earned:${Number(o.body.id)}'`,
    )) as unknown as [[{ status: string }]]
    expect(row.status).toBe('REFUSED')
  })

  it('keeps a committed message across an origin crash and sends it once after restart', async () => {
    const m = await setUp(api, mode)
    await control(stack.sandbox, 'POST', '/faults', { pathPrefix: SEND_PATH, status: 503, times: 1000 })
    const s = await paidBy(stack, api, m.merchantId, 400)
    // Kill while the message waits for its next retry, not while a send holds its 60 s claim.
    for (let waiting = false; !waiting; await sleep(10)) {
      const [rows] = (await stack.db.primary.execute(
        `SELECT 1 FROM outbox WHERE status = 'PENDING' AND attempts >= 2 AND JSON_EXTRACT(payload, '$.touser') = '${s.openid}'
           AND next_attempt_at BETWEEN UTC_TIMESTAMP(3) + INTERVAL 0.3 SECOND AND UTC_TIMESTAMP(3) + INTERVAL 20 SECOND`,
      )) as unknown as [unknown[]]
      waiting = rows.length === 1
    }
    await stack.origin.stop('SIGKILL')
    await control(stack.sandbox, 'DELETE', '/faults')
    await stack.restartOrigin()
    api = apiClient(stack.origin.url)
    const { got } = await waitForMessages(stack, s.openid, 1, 20_000)
    expect(got).toHaveLength(1)
    await sleep(4 * JOB_INTERVAL_MS)
    expect(await messagesTo(stack, s.openid)).toHaveLength(1)
  })
})

describe('subscribe messages without templates', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ env: { JOB_INTERVAL_MS: String(JOB_INTERVAL_MS) } })
  })
  afterAll(async () => {
    await stack?.close()
  })

  it('sends nothing when the template id is unset', async () => {
    const api = apiClient(stack.origin.url)
    const m = await setUp(api, 'direct')
    const s = await paidBy(stack, api, m.merchantId, 1000)
    await sleep(4 * JOB_INTERVAL_MS)
    expect(await sendAttempts(stack, s.openid)).toHaveLength(0)
    const [[row]] = (await stack.db.primary.execute('SELECT COUNT(*) AS n FROM outbox')) as unknown as [
      [{ n: number }],
    ]
    expect(Number(row.n)).toBe(0)
    expect(await invariants(stack)).toEqual(HOLDS)
  })
})
