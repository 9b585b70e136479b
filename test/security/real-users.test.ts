/**
 * Real users only (API.md §16). The finding: a valid token whose user row no longer existed could
 * still apply for a merchant, and order creation answered 500. Every authenticated route now loads
 * the caller's row first (401 when gone), and the services refuse requests that name a missing
 * user, merchant, order or gift: there are no foreign keys to do it (docs/SCALING.md).
 */
import { sign } from 'hono/jwt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, adminToken, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
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

describe('without foreign keys (migration 0010)', () => {
  it('the schema has none', async () => {
    const [rows] = (await stack.db.primary.execute(
      'SELECT COUNT(*) AS n FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()',
    )) as unknown as [Array<{ n: number }>]
    expect(Number(rows[0]!.n)).toBe(0)
  })

  it('the services refuse what names a missing user, merchant, order or gift, and write nothing', async () => {
    const m = await activeMerchant(api, 'Checks Shop')
    const user = await api.login(uniqueOpenid('names'))
    const admin = await adminToken(api)
    const missing = '999999999'
    const tables = ['orders', 'refunds', 'transfers', 'staff_invitations', 'merchant_staff', 'audit_log']
    const counts = async () => Promise.all(tables.map(count))
    const before = await counts()
    const calls: Array<[token: string, path: string, body?: unknown]> = [
      [user.token, '/api/orders', { merchantId: missing, amountFen: 100 }],
      [user.token, `/api/me/invitations/${missing}/accept`],
      [user.token, '/api/points/gifts/NOSUCHGIFT1/claim'],
      [m.ownerToken, '/api/merchant/staff', { userId: missing, role: 'merchant_staff' }],
      [m.ownerToken, '/api/merchant/grants', { userId: missing, points: 1, reason: 'ghost' }],
      [m.ownerToken, `/api/merchant/orders/${missing}/refunds`, { amountFen: 1, reason: 'ghost' }],
      [admin, '/api/admin/adjustments', { userId: missing, points: 1, reason: 'ghost' }],
      [admin, `/api/admin/merchants/${missing}/approve`],
      [admin, `/api/admin/users/${missing}/freeze`],
    ]
    const wrong: string[] = []
    for (const [token, path, body] of calls) {
      const res = await api.call('POST', path, { token, body, idempotencyKey: idemKey() })
      if (res.status !== 404 || res.body?.error?.code !== 'NOT_FOUND')
        wrong.push(`POST ${path} → ${res.status} ${res.text.slice(0, 120)}`)
    }
    expect(wrong).toEqual([])
    expect(await counts()).toEqual(before)
  })
})
