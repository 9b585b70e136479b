/**
 * Real users only (API.md §16). The finding: a valid token whose user row no longer existed could
 * still apply for a merchant, and order creation answered 500. Every authenticated route now loads
 * the caller's row first (401 when gone), and foreign keys refuse rows that name a missing user,
 * merchant or order.
 */
import { sign } from 'hono/jwt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { HOLDS, invariants, JWT_SECRET, type Stack, startStack } from '../harness/stack.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>
let merchantId: string

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
  merchantId = (await activeMerchant(api)).merchantId
})
afterAll(async () => {
  expect(stack.origin.output()).not.toContain('unhandled error')
  expect(await invariants(stack)).toEqual(HOLDS)
  await stack?.close()
})

const count = async (table: string) => {
  const [rows] = (await stack.db.primary.execute(`SELECT COUNT(*) AS n FROM ${table}`)) as unknown as [
    Array<{ n: number }>,
  ]
  return Number(rows[0]!.n)
}

const calls = (): Array<[method: string, path: string, body?: unknown]> => [
  ['GET', '/api/me', undefined],
  ['PATCH', '/api/me', { nickname: 'ghost' }],
  ['GET', '/api/me/invitations', undefined],
  ['GET', '/api/points/balance', undefined],
  ['GET', '/api/orders', undefined],
  ['POST', '/api/orders', { merchantId, amountFen: 100 }],
  ['POST', '/api/points/gifts', { points: 1 }],
  ['POST', '/api/merchants/applications', { name: 'Ghost Shop', contactPhone: '13900000005' }],
  ['GET', '/api/merchant', undefined],
  ['GET', '/api/admin/stats', undefined],
]

async function expectAllUnauthenticated(token: string) {
  const before = { orders: await count('orders'), merchants: await count('merchants') }
  const wrong: string[] = []
  for (const [method, path, body] of calls()) {
    const res = await api.call(method, path, { token, body, idempotencyKey: idemKey() })
    if (res.status !== 401 || res.body?.error?.code !== 'UNAUTHENTICATED')
      wrong.push(`${method} ${path} → ${res.status} ${res.text.slice(0, 120)}`)
  }
  expect(wrong).toEqual([])
  expect({ orders: await count('orders'), merchants: await count('merchants') }).toEqual(before)
}

describe('a token whose user is gone', () => {
  it('gets 401 everywhere, including order creation and merchant applications', async () => {
    const ghost = await api.login(uniqueOpenid('ghost'))
    expect((await api.get('/api/me', { token: ghost.token })).status).toBe(200)
    await stack.db.primary.execute(`DELETE FROM users WHERE id = ${Number(ghost.user.id)}`)
    await expectAllUnauthenticated(ghost.token)
  })

  it('a well-signed token for an id that never existed gets 401 too', async () => {
    const now = Math.floor(Date.now() / 1000)
    const token = await sign(
      { sub: '987654321', roles: ['user', 'admin'], merchantId: null, iat: now, exp: now + 600 },
      JWT_SECRET,
      'HS256',
    )
    await expectAllUnauthenticated(token)
  })
})

describe('foreign keys', () => {
  const refused = async (sql: string) => {
    const err = await stack.db.primary.execute(sql).then(
      () => null,
      (e: unknown) => e as { cause?: { errno?: number } },
    )
    // 1452: a child row names a parent that does not exist.
    expect(err?.cause?.errno, sql).toBe(1452)
  }
  const now = "'2030-01-01 00:00:00.000'"

  it('refuse rows that name a missing user, merchant or order', async () => {
    const user = (await api.login(uniqueOpenid('fk'))).user.id
    await refused(
      `INSERT INTO orders (out_trade_no, user_id, merchant_id, amount_fen, payable_fen, status, rule_earn_points,
        rule_per_fen, rule_min_order_fen, expires_at, created_at, updated_at)
       VALUES ('fk-1', 999999999, ${merchantId}, 1, 1, 'PENDING', 1, 1, 0, ${now}, ${now}, ${now})`,
    )
    await refused(
      `INSERT INTO orders (out_trade_no, user_id, merchant_id, amount_fen, payable_fen, status, rule_earn_points,
        rule_per_fen, rule_min_order_fen, expires_at, created_at, updated_at)
       VALUES ('fk-2', ${user}, 999999999, 1, 1, 'PENDING', 1, 1, 0, ${now}, ${now}, ${now})`,
    )
    await refused(
      `INSERT INTO refunds (out_refund_no, order_id, merchant_id, amount_fen, status, created_at, updated_at)
       VALUES ('fk-r', 999999999, ${merchantId}, 1, 'PROCESSING', ${now}, ${now})`,
    )
    await refused(
      `INSERT INTO gifts (code, sender_user_id, points, status, expires_at, created_at, updated_at)
       VALUES ('fkgift0001', 999999999, 1, 'PENDING', ${now}, ${now}, ${now})`,
    )
    await refused(
      `INSERT INTO merchant_staff (user_id, merchant_id, created_at) VALUES (${user}, 999999999, ${now})`,
    )
    await refused(
      `INSERT INTO staff_invitations (merchant_id, user_id, invited_by_user_id, role, status, created_at)
       VALUES (${merchantId}, 999999999, ${user}, 'merchant_staff', 'PENDING', ${now})`,
    )
    // And a user who is named somewhere cannot be deleted out from under those rows.
    const owner = (await stack.db.primary.execute(
      `SELECT owner_user_id AS id FROM merchants WHERE id = ${merchantId}`,
    )) as unknown as [Array<{ id: number }>]
    await expect(
      stack.db.primary.execute(`DELETE FROM users WHERE id = ${owner[0][0]!.id}`),
    ).rejects.toMatchObject({ cause: { errno: 1451 } })
  })
})
