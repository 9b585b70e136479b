/** Account deletion and freezing (API.md §14), against the real origin and the WeChat sandbox. */
import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../sandbox/testing.ts'
import { apiClient } from './harness/client.ts'
import { activeMerchant, adminToken, idemKey, uniqueOpenid, userWithPoints } from './harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './harness/stack.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>
let merchant: Awaited<ReturnType<typeof activeMerchant>>
let admin: string

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
  merchant = await activeMerchant(api)
  // 1 point per 10 fen, so a paid order's award is easy to predict.
  await api.put(
    '/api/merchant/rule',
    { earnPoints: 1, perFen: 10, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
    { token: merchant.ownerToken },
  )
  admin = await adminToken(api)
})
afterEach(async () => {
  expect(await invariants(stack)).toEqual(HOLDS)
})
afterAll(async () => {
  await stack?.close()
})

type Row = Record<string, unknown>
const rows = async (query: ReturnType<typeof sql>) =>
  (await stack.db.primary.execute(query))[0] as unknown as Row[]
const balance = async (token: string) => (await api.get('/api/points/balance', { token })).body
const accountBalance = async (userId: string) =>
  Number(
    (await rows(sql`SELECT balance FROM accounts WHERE kind = 'USER' AND owner_id = ${Number(userId)}`))[0]!
      .balance,
  )
const order = async (token: string, amountFen: number) => {
  const res = await api.post(
    '/api/orders',
    { merchantId: merchant.merchantId, amountFen },
    { token, idempotencyKey: idemKey() },
  )
  expect(res.status).toBe(201)
  return res.body as { id: string; outTradeNo: string }
}
const sandboxPay = (outTradeNo: string) => control(stack.sandbox, 'POST', '/pay', { outTradeNo })
const deleteMe = (token: string) => api.delete('/api/me', { token })

describe('account deletion', () => {
  it('closes pending orders, cancels pending gifts, forfeits the rest, erases the profile and the openid link', async () => {
    const openid = uniqueOpenid('leaver')
    const me = await api.login(openid)
    await api.post(
      '/api/merchant/grants',
      { userId: me.user.id, points: 100, reason: 'welcome' },
      { token: merchant.ownerToken },
    )
    await api.patch(
      '/api/me',
      { nickname: 'Leaving Lu', avatarUrl: 'https://img.example/lu.png' },
      { token: me.token },
    )
    const friend = await api.login(uniqueOpenid('friend'))
    const gift = await api.post('/api/points/gifts', { points: 30, count: 2 }, { token: me.token })
    expect(
      (await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, { token: friend.token })).body
        .share,
    ).toBe(15)
    const pending = await order(me.token, 500)

    const deleted = await deleteMe(me.token)
    expect(deleted.status).toBe(200)
    expect(deleted.body).toEqual({ deleted: true })

    expect((await api.get('/api/me', { token: me.token })).status).toBe(401)
    expect((await api.get('/api/points/balance', { token: me.token })).status).toBe(401)
    expect((await deleteMe(me.token)).status).toBe(401)
    const [o] = await rows(sql`SELECT status FROM orders WHERE id = ${Number(pending.id)}`)
    expect(o!.status).toBe('CLOSED')
    const [g] = await rows(sql`SELECT status, remaining_points FROM gifts WHERE id = ${Number(gift.body.id)}`)
    expect(g).toMatchObject({ status: 'CANCELLED', remaining_points: 0 })
    const [u] = await rows(
      sql`SELECT openid, unionid, nickname, avatar_url, deleted_at FROM users WHERE id = ${Number(me.user.id)}`,
    )
    expect(u).toMatchObject({ openid: `deleted:${me.user.id}`, unionid: null, nickname: '', avatar_url: '' })
    expect(u!.deleted_at).not.toBeNull()
    // The ledger keeps the history: grant, send, return, and the forfeit of 100 − 30 + 15.
    const kinds = await rows(sql`SELECT e.kind, e.delta, e.balance_after FROM ledger_entries e
      JOIN accounts a ON a.id = e.account_id WHERE a.kind = 'USER' AND a.owner_id = ${Number(me.user.id)} ORDER BY e.seq`)
    expect(kinds.map((k) => [k.kind, Number(k.delta), Number(k.balance_after)])).toEqual([
      ['MERCHANT_GRANT', 100, 100],
      ['GIFT_SEND', -30, 70],
      ['GIFT_RETURN', 15, 85],
      ['ACCOUNT_CLOSED', -85, 0],
    ])
    expect(await balance(friend.token)).toMatchObject({ balance: 15 })

    const again = await api.login(openid)
    expect(again.user.id).not.toBe(me.user.id)
    expect(await balance(again.token)).toEqual({
      balance: 0,
      heldInGifts: 0,
      totalEarned: 0,
      expiringSoon: null,
    })
    expect((await api.get('/api/me', { token: again.token })).body).toMatchObject({
      nickname: '',
      avatarUrl: '',
    })
  })

  it('applies a payment WeChat took but never reported before forfeiting, instead of closing its order', async () => {
    const u = await api.login(uniqueOpenid('unlucky'))
    const paid = await order(u.token, 700)
    await control(stack.sandbox, 'POST', '/pay', { outTradeNo: paid.outTradeNo, deliver: false })
    expect((await deleteMe(u.token)).status).toBe(200)
    const [o] = await rows(sql`SELECT status, points_awarded FROM orders WHERE id = ${Number(paid.id)}`)
    expect(o).toMatchObject({ status: 'PAID', points_awarded: 70 })
    const moves = await rows(sql`SELECT kind, points FROM transfers WHERE ref_id IN (${paid.id}, ${u.user.id})
      AND kind IN ('EARN', 'ACCOUNT_CLOSED') ORDER BY id`)
    expect(moves.map((m) => [m.kind, Number(m.points)])).toEqual([
      ['EARN', 70],
      ['ACCOUNT_CLOSED', 70],
    ])
    expect(await accountBalance(u.user.id)).toBe(0)
  })

  it('refuses a merchant owner with 409 and leaves everything as it was', async () => {
    const owner = await activeMerchant(api, 'Noodle Bar')
    const res = await deleteMe(owner.ownerToken)
    expect(res.status).toBe(409)
    expect(res.body.error.code).toBe('INVALID_STATE')
    expect((await api.get('/api/me', { token: owner.ownerToken })).status).toBe(200)
  })

  it('forfeits nothing from a negative balance', async () => {
    const shopper = await api.login(uniqueOpenid('debtor'))
    const friend = await api.login(uniqueOpenid('friend'))
    const paid = await order(shopper.token, 1000)
    await sandboxPay(paid.outTradeNo)
    expect(await balance(shopper.token)).toMatchObject({ balance: 100 })
    const gift = await api.post('/api/points/gifts', { points: 100 }, { token: shopper.token })
    await api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, { token: friend.token })
    const refund = await api.post(
      `/api/merchant/orders/${paid.id}/refunds`,
      { amountFen: 1000, reason: 'returned' },
      { token: merchant.ownerToken, idempotencyKey: idemKey() },
    )
    await control(stack.sandbox, 'POST', `/refunds/${refund.body.outRefundNo}/complete`, {
      status: 'SUCCESS',
    })
    expect(await balance(shopper.token)).toMatchObject({ balance: -100 })
    expect((await deleteMe(shopper.token)).status).toBe(200)
    expect(await accountBalance(shopper.user.id)).toBe(-100)
    const closed = await rows(sql`SELECT COUNT(*) AS n FROM transfers WHERE kind = 'ACCOUNT_CLOSED'
      AND ref_id = ${shopper.user.id}`)
    expect(Number(closed[0]!.n)).toBe(0)
  })

  it('never credits an account after its forfeit: claims racing with their claimers deleting', async () => {
    const sender = await userWithPoints(api, 400, merchant)
    const claimers = await Promise.all(Array.from({ length: 20 }, () => api.login(uniqueOpenid('racer'))))
    const gift = await api.post('/api/points/gifts', { points: 400, count: 20 }, { token: sender.token })
    const results = await Promise.all(
      claimers.map(async (c) => {
        const [claimed, deleted] = await Promise.all([
          api.post(`/api/points/gifts/${gift.body.code}/claim`, undefined, { token: c.token }),
          deleteMe(c.token),
        ])
        return { claimed: claimed.status, deleted: deleted.status, id: c.user.id }
      }),
    )
    for (const r of results) {
      expect(r.deleted).toBe(200)
      expect([200, 401]).toContain(r.claimed)
      expect(await accountBalance(r.id)).toBe(0)
    }
    const won = results.filter((r) => r.claimed === 200).length
    const [g] = await rows(
      sql`SELECT claimed_count, remaining_points FROM gifts WHERE id = ${Number(gift.body.id)}`,
    )
    expect(Number(g!.claimed_count)).toBe(won)
    expect(Number(g!.remaining_points)).toBe(400 - 20 * won)
  })

  it('refuses grants and adjustments to a deleted account with 404', async () => {
    const gone = await api.login(uniqueOpenid('gone'))
    expect((await deleteMe(gone.token)).status).toBe(200)
    const grant = await api.post(
      '/api/merchant/grants',
      { userId: gone.user.id, points: 5, reason: 'late' },
      { token: merchant.ownerToken },
    )
    expect(grant.status).toBe(404)
    const adjust = await api.post(
      '/api/admin/adjustments',
      { userId: gone.user.id, points: 5, reason: 'late' },
      { token: admin },
    )
    expect(adjust.status).toBe(404)
    expect(
      (await api.post(`/api/admin/users/${gone.user.id}/freeze`, undefined, { token: admin })).status,
    ).toBe(404)
  })
})

describe('freezing', () => {
  it('lets a frozen user read but refuses every write with 403 ACCOUNT_FROZEN, deletion included', async () => {
    const u = await userWithPoints(api, 100, merchant)
    const other = await userWithPoints(api, 100, merchant)
    const before = await api.post('/api/points/gifts', { points: 10 }, { token: u.token })
    const theirs = await api.post('/api/points/gifts', { points: 10 }, { token: other.token })

    const frozen = await api.post(`/api/admin/users/${u.id}/freeze`, undefined, { token: admin })
    expect(frozen.status).toBe(200)
    expect(frozen.body).toMatchObject({ id: u.id, frozen: true, frozenAt: expect.any(String) })
    const twice = await api.post(`/api/admin/users/${u.id}/freeze`, undefined, { token: admin })
    expect(twice.body).toEqual(frozen.body)

    const writes = [
      api.post('/api/points/gifts', { points: 1 }, { token: u.token }),
      api.post(`/api/points/gifts/${theirs.body.code}/claim`, undefined, { token: u.token }),
      api.post(`/api/points/gifts/${before.body.id}/cancel`, undefined, { token: u.token }),
      api.patch('/api/me', { nickname: 'Frosty' }, { token: u.token }),
      api.post('/api/orders', { merchantId: merchant.merchantId, amountFen: 100 }, { token: u.token }),
      api.post(
        '/api/merchants/applications',
        { name: 'Ice', contactPhone: '13800138000' },
        { token: u.token },
      ),
      deleteMe(u.token),
    ]
    for (const res of await Promise.all(writes)) {
      expect(res.status).toBe(403)
      expect(res.body.error.code).toBe('ACCOUNT_FROZEN')
    }
    for (const path of ['/api/me', '/api/points/balance', '/api/points/records', '/api/orders']) {
      expect((await api.get(path, { token: u.token })).status, path).toBe(200)
    }
    expect((await api.get(`/api/points/gifts/${theirs.body.code}`, { token: u.token })).status).toBe(200)
    expect(await balance(u.token)).toMatchObject({ balance: 90, heldInGifts: 10 })

    const audit = (await api.get('/api/admin/audit-log', { token: admin })).body.items
    expect(audit.filter((a: Row) => a.action === 'user.freeze' && a.targetId === u.id)).toHaveLength(2)

    const thawed = await api.post(`/api/admin/users/${u.id}/unfreeze`, undefined, { token: admin })
    expect(thawed.body).toEqual({ id: u.id, frozen: false, frozenAt: null })
    expect((await api.post('/api/points/gifts', { points: 1 }, { token: u.token })).status).toBe(201)
  })

  it("refuses a frozen owner's merchant-console writes and still lets them read", async () => {
    const shop = await activeMerchant(api, 'Frozen Yoghurt')
    const ownerId = (await api.get('/api/me', { token: shop.ownerToken })).body.id
    await api.post(`/api/admin/users/${ownerId}/freeze`, undefined, { token: admin })
    const rule = await api.put(
      '/api/merchant/rule',
      { earnPoints: 2, perFen: 10, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
      { token: shop.ownerToken },
    )
    expect(rule.status).toBe(403)
    expect(rule.body.error.code).toBe('ACCOUNT_FROZEN')
    const grant = await api.post(
      '/api/merchant/grants',
      { userId: ownerId, points: 1, reason: 'x' },
      { token: shop.ownerToken },
    )
    expect(grant.body.error.code).toBe('ACCOUNT_FROZEN')
    const read = await api.get('/api/merchant', { token: shop.ownerToken })
    expect(read.status).toBe(200)
    expect(read.body.rule.earnPoints).not.toBe(2)
  })

  it('still awards a frozen user for an order paid after the freeze', async () => {
    const u = await api.login(uniqueOpenid('payer'))
    const o = await order(u.token, 300)
    await api.post(`/api/admin/users/${u.user.id}/freeze`, undefined, { token: admin })
    await sandboxPay(o.outTradeNo)
    expect(await balance(u.token)).toMatchObject({ balance: 30 })
  })

  it('is for admins only', async () => {
    const u = await api.login(uniqueOpenid('nosy'))
    const res = await api.post(`/api/admin/users/${u.user.id}/freeze`, undefined, { token: u.token })
    expect(res.status).toBe(403)
    expect(res.body.error.code).toBe('FORBIDDEN')
    expect((await api.post('/api/admin/users/999999999/freeze', undefined, { token: admin })).status).toBe(
      404,
    )
  })
})
