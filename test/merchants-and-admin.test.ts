import { describe, expect, it } from 'vitest'
import { activeMerchant, enlistStaff, idemKey, uniqueOpenid } from './harness/fixtures.ts'
import { useStack } from './harness/use-stack.ts'

const file = useStack({ invariantsAfterEach: true, admin: true })

describe('merchant applications and review', () => {
  it('takes an application, hides it until approved, then makes the applicant owner', async () => {
    const openid = uniqueOpenid('shop')
    const applicant = await file.api.login(openid)
    const applied = await file.api.post(
      '/api/merchants/applications',
      { name: 'Noodle Bar', contactPhone: '+8613900139000' },
      { token: applicant.token },
    )
    expect(applied.status).toBe(201)
    expect(applied.body).toEqual({ merchantId: expect.any(String), status: 'PENDING_REVIEW' })
    const id = applied.body.merchantId
    expect((await file.api.get(`/api/merchants/${id}`)).status).toBe(404)
    expect((await file.api.get('/api/merchant', { token: applicant.token })).status).toBe(403)
    const twice = await file.api.post(
      '/api/merchants/applications',
      { name: 'Again', contactPhone: '13900139000' },
      { token: applicant.token },
    )
    expect(twice.status).toBe(409)

    const list = await file.api.get('/api/admin/merchants?status=PENDING_REVIEW', { token: file.admin })
    expect(list.status).toBe(200)
    expect(list.body.items.map((m: { id: string }) => m.id)).toContain(id)

    const approved = await file.api.post(`/api/admin/merchants/${id}/approve`, undefined, {
      token: file.admin,
    })
    expect(approved.status).toBe(200)
    expect(approved.body.status).toBe('ACTIVE')
    const again = await file.api.post(`/api/admin/merchants/${id}/approve`, undefined, { token: file.admin })
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('INVALID_STATE')

    const page = await file.api.get(`/api/merchants/${id}`)
    expect(page.status).toBe(200)
    expect(page.body).toEqual({
      id,
      name: 'Noodle Bar',
      description: '',
      logoUrl: '',
      status: 'ACTIVE',
      rule: {
        earnPoints: 1,
        perFen: 100,
        minOrderFen: 0,
        maxPointsPerOrder: null,
        dailyCapPerUser: null,
        redeemFenPerPoint: null,
        redeemMaxPercent: 100,
      },
    })
    expect(page.headers.get('cache-control')).toContain('max-age')
    const owner = await file.api.login(openid)
    expect(owner.user).toMatchObject({ roles: ['user', 'merchant_owner'], merchantId: id })
  })

  it('validates applications and refuses non-admins at the admin API', async () => {
    const u = await file.api.login(uniqueOpenid())
    const bad = await file.api.post(
      '/api/merchants/applications',
      { name: 'X', contactPhone: 'call me' },
      { token: u.token },
    )
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.field).toBe('contactPhone')
    expect((await file.api.get('/api/admin/merchants', { token: u.token })).status).toBe(403)
    expect((await file.api.get('/api/admin/stats', { token: u.token })).status).toBe(403)
    // Ids are opaque: one we could not have issued is simply not found, on every :id route.
    for (const path of [
      '/api/merchants/does-not-exist',
      '/api/merchants/0',
      `/api/merchants/${'9'.repeat(40)}`,
      '/api/orders/abc',
      '/api/points/gifts/not-a-code',
    ]) {
      const res = await file.api.get(path, { token: u.token })
      expect(res.status, path).toBe(404)
      expect(res.body.error.code).toBe('NOT_FOUND')
    }
    expect(
      (await file.api.post('/api/admin/merchants/abc/approve', undefined, { token: file.admin })).status,
    ).toBe(404)
    expect(
      (await file.api.post('/api/admin/merchants/999999/approve', undefined, { token: file.admin })).status,
    ).toBe(404)
  })

  it('rejects and suspends, and a suspended merchant disappears and cannot grant', async () => {
    const rejectedUser = await file.api.login(uniqueOpenid())
    const r = await file.api.post(
      '/api/merchants/applications',
      { name: 'Shady', contactPhone: '13700137000' },
      { token: rejectedUser.token },
    )
    expect(
      (
        await file.api.post(`/api/admin/merchants/${r.body.merchantId}/reject`, undefined, {
          token: file.admin,
        })
      ).body.status,
    ).toBe('REJECTED')
    const reapply = await file.api.post(
      '/api/merchants/applications',
      { name: 'Better', contactPhone: '13700137000' },
      { token: rejectedUser.token },
    )
    expect(reapply.status).toBe(201)
    expect(reapply.body.merchantId).toBe(r.body.merchantId)

    const m = await activeMerchant(file.api)
    const customer = await file.api.login(uniqueOpenid())
    const suspended = await file.api.post(`/api/admin/merchants/${m.merchantId}/suspend`, undefined, {
      token: file.admin,
    })
    expect(suspended.body.status).toBe('SUSPENDED')
    expect((await file.api.get(`/api/merchants/${m.merchantId}`)).status).toBe(404)
    const grant = await file.api.post(
      '/api/merchant/grants',
      { userId: customer.user.id, points: 5, reason: 'x' },
      { token: m.ownerToken },
    )
    expect(grant.status).toBe(422)
    expect(grant.body.error.code).toBe('MERCHANT_NOT_ACTIVE')
  })
})

describe('contact phone at rest and in answers', () => {
  it('stores the phone encrypted and shows it in full only to the owner', async () => {
    const m = await activeMerchant(file.api)
    const [row] = (await file.stack.db.primary.execute(
      `SELECT contact_phone FROM merchants WHERE id = ${Number(m.merchantId)}`,
    )) as unknown as [Array<{ contact_phone: string }>]
    expect(row[0]!.contact_phone).toMatch(/^enc1:p1:/)
    expect(row[0]!.contact_phone).not.toContain('13800138000')
    expect((await file.api.get('/api/merchant', { token: m.ownerToken })).body.contactPhone).toBe(
      '13800138000',
    )
    const staff = await file.api.login(uniqueOpenid('staff'))
    await enlistStaff(file.api, m.ownerToken, { token: staff.token, id: staff.user.id })
    expect((await file.api.get('/api/merchant', { token: staff.token })).body.contactPhone).toBe(
      '138****8000',
    )
    const listed = await file.api.get('/api/admin/merchants?limit=100', { token: file.admin })
    const mine = listed.body.items.find((x: { id: string }) => x.id === m.merchantId)
    expect(mine.contactPhone).toBe('138****8000')
    expect(JSON.stringify(listed.body)).not.toContain('13800138000')
  })
})

describe('merchant console', () => {
  it('lets the owner edit profile and rule, and validates the rule', async () => {
    const m = await activeMerchant(file.api)
    const patched = await file.api.patch(
      '/api/merchant',
      { description: 'New leaves', logoUrl: 'https://img.example/logo.png' },
      { token: m.ownerToken },
    )
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({ description: 'New leaves', logoUrl: 'https://img.example/logo.png' })
    const rule = {
      earnPoints: 2,
      perFen: 1000,
      minOrderFen: 500,
      maxPointsPerOrder: 50,
      dailyCapPerUser: 200,
    }
    const put = await file.api.put('/api/merchant/rule', rule, { token: m.ownerToken })
    expect(put.status).toBe(200)
    // Redemption is off unless the rule turns it on (API.md §14).
    const stored = { ...rule, redeemFenPerPoint: null, redeemMaxPercent: 100 }
    expect(put.body.rule).toEqual(stored)
    const bad = await file.api.put('/api/merchant/rule', { ...rule, perFen: 0 }, { token: m.ownerToken })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.field).toBe('perFen')
    const missing = await file.api.put('/api/merchant/rule', { earnPoints: 1 }, { token: m.ownerToken })
    expect(missing.status).toBe(400)
    expect((await file.api.get(`/api/merchants/${m.merchantId}`)).body.rule).toEqual(stored)
  })

  it('adds and removes staff: staff read, cannot write; removal takes effect at once', async () => {
    const m = await activeMerchant(file.api)
    const staff = await file.api.login(uniqueOpenid('staff'))
    await enlistStaff(file.api, m.ownerToken, { token: staff.token, id: staff.user.id })
    expect((await file.api.get('/api/merchant', { token: staff.token })).status).toBe(200)
    expect((await file.api.get('/api/merchant/orders', { token: staff.token })).body).toEqual({
      items: [],
      nextCursor: null,
    })
    expect((await file.api.patch('/api/merchant', { name: 'Mine now' }, { token: staff.token })).status).toBe(
      403,
    )
    expect(
      (
        await file.api.put(
          '/api/merchant/rule',
          { earnPoints: 9, perFen: 1, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
          { token: staff.token },
        )
      ).status,
    ).toBe(403)
    const grant = await file.api.post(
      '/api/merchant/grants',
      { userId: staff.user.id, points: 5, reason: 'self' },
      { token: staff.token },
    )
    expect(grant.status).toBe(403)
    const other = await activeMerchant(file.api, 'Other')
    const poach = await file.api.post(
      '/api/merchant/staff',
      { userId: staff.user.id, role: 'merchant_staff' },
      { token: other.ownerToken },
    )
    expect(poach.status).toBe(409)
    expect(
      (await file.api.delete(`/api/merchant/staff/${staff.user.id}`, { token: other.ownerToken })).status,
    ).toBe(404)
    expect(
      (await file.api.delete(`/api/merchant/staff/${staff.user.id}`, { token: m.ownerToken })).status,
    ).toBe(204)
    expect((await file.api.get('/api/merchant', { token: staff.token })).status).toBe(403)
    const wrongRole = await file.api.post(
      '/api/merchant/staff',
      { userId: staff.user.id, role: 'admin' },
      { token: m.ownerToken },
    )
    expect(wrongRole.status).toBe(400)
  })

  it('grants points idempotently, to existing users only', async () => {
    const m = await activeMerchant(file.api)
    const u = await file.api.login(uniqueOpenid())
    const key = idemKey()
    const body = { userId: u.user.id, points: 40, reason: 'loyal customer' }
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        file.api.post('/api/merchant/grants', body, { token: m.ownerToken, idempotencyKey: key }),
      ),
    )
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201))
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1)
    expect((await file.api.get('/api/points/balance', { token: u.token })).body).toEqual({
      balance: 40,
      heldInGifts: 0,
      totalEarned: 40,
      expiringSoon: null,
    })
    const records = await file.api.get('/api/points/records', { token: u.token })
    expect(records.body.items).toEqual([
      expect.objectContaining({
        id: expect.stringMatching(/^[1-9][0-9]*$/),
        kind: 'MERCHANT_GRANT',
        delta: 40,
        balanceAfter: 40,
        merchantId: m.merchantId,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      }),
    ])
    // Written a moment ago, in UTC: a time-zone slip would be hours off.
    expect(Math.abs(Date.parse(records.body.items[0].createdAt) - Date.now())).toBeLessThan(60_000)
    const nobody = await file.api.post(
      '/api/merchant/grants',
      { ...body, userId: '987654321' },
      { token: m.ownerToken },
    )
    expect(nobody.status).toBe(404)
  })
})

describe('admin', () => {
  it('adjusts balances both ways, never below zero, and audits every write', async () => {
    const u = await file.api.login(uniqueOpenid())
    const plus = await file.api.post(
      '/api/admin/adjustments',
      { userId: u.user.id, points: 100, reason: 'compensation' },
      { token: file.admin, idempotencyKey: idemKey() },
    )
    expect(plus.status).toBe(201)
    expect(plus.body).toMatchObject({ userId: u.user.id, points: 100, balance: 100 })
    const minus = await file.api.post(
      '/api/admin/adjustments',
      { userId: u.user.id, points: -30, reason: 'correction' },
      { token: file.admin },
    )
    expect(minus.body.balance).toBe(70)
    const tooFar = await file.api.post(
      '/api/admin/adjustments',
      { userId: u.user.id, points: -71, reason: 'oops' },
      { token: file.admin },
    )
    expect(tooFar.status).toBe(422)
    expect(tooFar.body.error.code).toBe('INSUFFICIENT_POINTS')
    const zero = await file.api.post(
      '/api/admin/adjustments',
      { userId: u.user.id, points: 0, reason: 'x' },
      { token: file.admin },
    )
    expect(zero.status).toBe(400)
    const audit = await file.api.get('/api/admin/audit-log?limit=100', { token: file.admin })
    expect(audit.status).toBe(200)
    const actions = audit.body.items.map((a: { action: string }) => a.action)
    expect(actions).toEqual(
      expect.arrayContaining([
        'points.adjust',
        'merchant.approve',
        'merchant.rule',
        'staff.invite',
        'staff.remove',
        'points.grant',
      ]),
    )
    const adjust = audit.body.items.find(
      (a: { action: string; targetId: string }) => a.action === 'points.adjust' && a.targetId === u.user.id,
    )
    expect(adjust).toMatchObject({
      actorRole: 'admin',
      targetType: 'user',
      details: { points: -30, reason: 'correction' },
    })
  })

  it('pages lists with limit and cursor, newest first, and validates them', async () => {
    const first = await file.api.get('/api/admin/audit-log?limit=2', { token: file.admin })
    expect(first.body.items).toHaveLength(2)
    expect(first.body.nextCursor).toEqual(expect.any(String))
    const second = await file.api.get(`/api/admin/audit-log?limit=2&cursor=${first.body.nextCursor}`, {
      token: file.admin,
    })
    expect(Number(second.body.items[0].id)).toBeLessThan(Number(first.body.items[1].id))
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'cursor=-1']) {
      const bad = await file.api.get(`/api/admin/audit-log?${q}`, { token: file.admin })
      expect(bad.status).toBe(400)
    }
  })

  it('reports platform stats', async () => {
    const stats = await file.api.get('/api/admin/stats', { token: file.admin })
    expect(stats.status).toBe(200)
    expect(stats.body).toMatchObject({
      users: expect.any(Number),
      pointsOutstanding: expect.any(Number),
      merchants: expect.any(Object),
    })
    expect(stats.body.users).toBeGreaterThan(3)
  })
})
