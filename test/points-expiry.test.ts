/**
 * Point expiry through the real origin (API.md §14, §15) with a 4-second POINTS_TTL_SECONDS:
 * expiringSoon on the balance, the "points expiring soon" message once per lot, the EXPIRE record
 * within 2 job intervals of the expiry, and a claimed gift keeping the sender's expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../sandbox/testing.ts'
import { type ApiClient, apiClient } from './harness/client.ts'
import { activeMerchant, uniqueOpenid } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

const TTL_SECONDS = 4
const JOB_INTERVAL_MS = 200
const TEMPLATE = 'tpl-expiring-1'
/** Time a loaded 2-core test machine may add to the contract's bound (HTTP round trips, a busy job run). */
const LOAD_ALLOWANCE_MS = 1000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let stack: Stack
let api: ApiClient
let merchant: { merchantId: string; ownerToken: string }

beforeAll(async () => {
  stack = await startStack({
    env: {
      POINTS_TTL_SECONDS: String(TTL_SECONDS),
      POINTS_EXPIRY_NOTICE_SECONDS: '3600',
      WECHAT_TEMPLATE_POINTS_EXPIRING: TEMPLATE,
      JOB_INTERVAL_MS: String(JOB_INTERVAL_MS),
    },
  })
  api = apiClient(stack.origin.url)
  merchant = await activeMerchant(api, 'Expiry Bakery')
}, 60_000)
afterAll(async () => {
  await stack?.close()
})

async function granted(points: number) {
  const openid = uniqueOpenid('expiring')
  const u = await api.login(openid)
  const before = Date.now()
  const res = await api.post(
    '/api/merchant/grants',
    { userId: u.user.id, points, reason: 'welcome' },
    { token: merchant.ownerToken },
  )
  expect(res.status).toBe(201)
  return { openid, token: u.token, id: u.user.id, before, after: Date.now() }
}

const balanceOf = async (token: string) => (await api.get('/api/points/balance', { token })).body
const messagesTo = async (openid: string) =>
  (
    await control<{ items: Array<{ body: any }> }>(stack.sandbox, 'GET', '/subscribe-messages')
  ).json.items.filter((m) => m.body.touser === openid && m.body.template_id === TEMPLATE)

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await read()
    if (done(v) || Date.now() > deadline) return v
    await sleep(50)
  }
}

describe('points expiry', () => {
  it('shows expiringSoon, tells the owner once, and expires the lot within 2 job intervals', async () => {
    const u = await granted(25)
    const shown = await balanceOf(u.token)
    expect(shown).toMatchObject({ balance: 25, expiringSoon: { points: 25 } })
    const at = Date.parse(shown.expiringSoon.at)
    expect(at).toBeGreaterThanOrEqual(u.before + TTL_SECONDS * 1000 - 1000)
    expect(at).toBeLessThanOrEqual(u.after + TTL_SECONDS * 1000 + 1000)

    const messages = await until(
      () => messagesTo(u.openid),
      (m) => m.length > 0,
      4 * JOB_INTERVAL_MS + 2000,
    )
    expect(messages).toHaveLength(1)
    expect(messages[0]!.body.data.number2).toEqual({ value: '25' })

    const expired = await until(
      () => balanceOf(u.token),
      (b) => b.balance === 0,
      at - Date.now() + 2 * JOB_INTERVAL_MS + LOAD_ALLOWANCE_MS,
    )
    expect(expired).toMatchObject({ balance: 0, expiringSoon: null, totalEarned: 25 })
    const records = (await api.get('/api/points/records', { token: u.token })).body.items
    expect(records.map((r: any) => [r.kind, r.delta, r.balanceAfter])).toEqual([
      ['EXPIRE', -25, 0],
      ['MERCHANT_GRANT', 25, 25],
    ])
    // Several more job runs: still one message and one EXPIRE record.
    await sleep(3 * JOB_INTERVAL_MS)
    expect(await messagesTo(u.openid)).toHaveLength(1)
    expect((await api.get('/api/points/records', { token: u.token })).body.items).toHaveLength(2)
    expect(await invariants(stack)).toEqual(HOLDS)
  })

  it('lets a claimed gift expire when the sender’s points would have', async () => {
    const sender = await granted(10)
    const senderAt = (await balanceOf(sender.token)).expiringSoon.at
    await sleep(1500)
    const gift = await api.post('/api/points/gifts', { points: 6 }, { token: sender.token })
    expect(gift.status).toBe(201)
    const friend = await api.login(uniqueOpenid('friend'))
    const claimed = await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, {
      token: friend.token,
    })
    expect(claimed.status).toBe(200)
    expect((await balanceOf(friend.token)).expiringSoon).toEqual({ points: 6, at: senderAt })
    const gone = await until(
      () => balanceOf(friend.token),
      (b) => b.balance === 0,
      Date.parse(senderAt) - Date.now() + 2 * JOB_INTERVAL_MS + LOAD_ALLOWANCE_MS,
    )
    expect(gone.balance).toBe(0)
    expect(await invariants(stack)).toEqual(HOLDS)
  })
})
