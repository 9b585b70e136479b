/**
 * Staff by consent (API.md §16). The finding: an owner could make any user staff without asking,
 * which then barred that user from applying for a merchant and could not be left; with sequential
 * ids an owner enrolled 17 of 30 users, the admin among them. Now an invitation changes nothing
 * until the invitee accepts, and staff may leave.
 */
import { describe, expect, it } from 'vitest'
import { activeMerchant, enlistStaff, uniqueOpenid } from '../harness/fixtures.ts'
import { ADMIN_OPENID } from '../harness/stack.ts'
import { useStack } from '../harness/use-stack.ts'

const file = useStack({ invariantsAfterEach: true, admin: true })

const user = async (prefix = 'u') => {
  const u = await file.api.login(uniqueOpenid(prefix))
  return { token: u.token, id: u.user.id }
}
const invite = (ownerToken: string, userId: string) =>
  file.api.post('/api/merchant/staff', { userId, role: 'merchant_staff' }, { token: ownerToken })
const answer = (token: string, id: string, what: 'accept' | 'decline') =>
  file.api.post(`/api/me/invitations/${id}/${what}`, undefined, { token })

describe('an invitation is only an invitation', () => {
  it('enrolling users by sequential id makes no one staff, not even the admin', async () => {
    const m = await activeMerchant(file.api)
    const adminUser = await file.api.login(ADMIN_OPENID)
    const victims = [await user('v'), await user('v'), { token: adminUser.token, id: adminUser.user.id }]
    for (const v of victims) {
      const res = await invite(m.ownerToken, v.id)
      expect(res.status).toBe(201)
      expect(res.body).toMatchObject({ invitationId: expect.any(String), status: 'PENDING' })
    }
    for (const v of victims) {
      const me = await file.api.get('/api/me', { token: v.token })
      expect(me.body.roles).not.toContain('merchant_staff')
      expect(me.body.merchantId).toBeNull()
      expect((await file.api.get('/api/merchant', { token: v.token })).status).toBe(403)
    }
    // A pending invitation blocks nothing: the invitee may still apply for a merchant of their own.
    const applied = await file.api.post(
      '/api/merchants/applications',
      { name: 'My Own', contactPhone: '13900000002' },
      { token: victims[0]!.token },
    )
    expect(applied.status).toBe(201)
    // ... after which the invitation can no longer be accepted.
    const list = await file.api.get('/api/me/invitations', { token: victims[0]!.token })
    const late = await answer(victims[0]!.token, list.body.items[0].id, 'accept')
    expect(late.status).toBe(409)
    expect(late.body.error.code).toBe('INVALID_STATE')
  })

  it('the invitee sees it, accepts it, and only then is staff; a second answer is refused', async () => {
    const m = await activeMerchant(file.api, 'Consent Tea')
    const u = await user()
    const invited = await invite(m.ownerToken, u.id)
    const list = await file.api.get('/api/me/invitations', { token: u.token })
    expect(list.status).toBe(200)
    expect(list.body).toEqual({
      items: [
        {
          id: invited.body.invitationId,
          merchantId: m.merchantId,
          merchantName: 'Consent Tea',
          role: 'merchant_staff',
          status: 'PENDING',
          createdAt: expect.any(String),
          respondedAt: null,
        },
      ],
      nextCursor: null,
    })
    const accepted = await answer(u.token, invited.body.invitationId, 'accept')
    expect(accepted.status).toBe(200)
    expect(accepted.body).toMatchObject({ id: invited.body.invitationId, status: 'ACCEPTED' })
    const me = await file.api.get('/api/me', { token: u.token })
    expect(me.body).toMatchObject({ roles: ['user', 'merchant_staff'], merchantId: m.merchantId })
    expect((await file.api.get('/api/merchant', { token: u.token })).status).toBe(200)
    for (const what of ['accept', 'decline'] as const) {
      const again = await answer(u.token, invited.body.invitationId, what)
      expect(again.status).toBe(409)
      expect(again.body.error.code).toBe('INVALID_STATE')
    }
    // Already staff: inviting again (by this or another merchant) is refused.
    expect((await invite(m.ownerToken, u.id)).status).toBe(409)
    const other = await activeMerchant(file.api, 'Poacher')
    const poach = await invite(other.ownerToken, u.id)
    expect(poach.status).toBe(409)
    expect(poach.body.error.code).toBe('INVALID_STATE')
  })

  it('declining leaves the user as they were; the owner may ask again later', async () => {
    const m = await activeMerchant(file.api)
    const u = await user()
    const first = await invite(m.ownerToken, u.id)
    const dup = await invite(m.ownerToken, u.id)
    expect(dup.status).toBe(409)
    expect(dup.body.error.code).toBe('INVALID_STATE')
    const declined = await answer(u.token, first.body.invitationId, 'decline')
    expect(declined.status).toBe(200)
    expect(declined.body.status).toBe('DECLINED')
    expect((await file.api.get('/api/me', { token: u.token })).body.roles).toEqual(['user'])
    expect((await answer(u.token, first.body.invitationId, 'accept')).status).toBe(409)
    const second = await invite(m.ownerToken, u.id)
    expect(second.status).toBe(201)
    const pending = await file.api.get('/api/me/invitations?status=PENDING', { token: u.token })
    expect(pending.body.items.map((i: { id: string }) => i.id)).toEqual([second.body.invitationId])
  })

  it('only the invitee can answer; others get 404 and change nothing', async () => {
    const m = await activeMerchant(file.api)
    const u = await user()
    const intruder = await user('intruder')
    const inv = await invite(m.ownerToken, u.id)
    for (const token of [intruder.token, m.ownerToken, file.admin]) {
      const res = await answer(token, inv.body.invitationId, 'accept')
      expect(res.status).toBe(404)
      expect(res.body.error.code).toBe('NOT_FOUND')
    }
    expect((await file.api.get('/api/me/invitations', { token: intruder.token })).body.items).toEqual([])
    expect((await file.api.get('/api/me/invitations', { token: u.token })).body.items[0].status).toBe(
      'PENDING',
    )
    expect((await answer(u.token, '999999999', 'accept')).status).toBe(404)
    expect(
      (
        await file.api.post(`/api/me/invitations/${inv.body.invitationId}/maybe`, undefined, {
          token: u.token,
        })
      ).status,
    ).toBe(404)
  })

  it('refuses unknown users (404), owners and applicants (409)', async () => {
    const m = await activeMerchant(file.api)
    const missing = await invite(m.ownerToken, '999999999')
    expect(missing.status).toBe(404)
    const other = await activeMerchant(file.api)
    const owner = await invite(m.ownerToken, other.ownerId)
    expect(owner.status).toBe(409)
    expect(owner.body.error.code).toBe('INVALID_STATE')
    expect((await invite(m.ownerToken, m.ownerId)).status).toBe(409)
  })

  it('accepting while already serving elsewhere is refused (409)', async () => {
    const a = await activeMerchant(file.api)
    const b = await activeMerchant(file.api)
    const u = await user()
    const fromA = await invite(a.ownerToken, u.id)
    const fromB = await invite(b.ownerToken, u.id)
    expect((await answer(u.token, fromA.body.invitationId, 'accept')).status).toBe(200)
    const second = await answer(u.token, fromB.body.invitationId, 'accept')
    expect(second.status).toBe(409)
    expect(second.body.error.code).toBe('INVALID_STATE')
    expect((await file.api.get('/api/me', { token: u.token })).body.merchantId).toBe(a.merchantId)
  })

  it('concurrent accepts of invitations from two merchants make the user staff of exactly one', async () => {
    const merchants = [
      await activeMerchant(file.api),
      await activeMerchant(file.api),
      await activeMerchant(file.api),
    ]
    const u = await user()
    const ids: string[] = []
    for (const m of merchants) ids.push((await invite(m.ownerToken, u.id)).body.invitationId)
    const results = await Promise.all(ids.map((id) => answer(u.token, id, 'accept')))
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409])
    const [rows] = (await file.stack.db.primary.execute(
      `SELECT COUNT(*) AS n FROM merchant_staff WHERE user_id = ${Number(u.id)}`,
    )) as unknown as [Array<{ n: number }>]
    expect(Number(rows[0]!.n)).toBe(1)
  })
})

describe('leaving and removal', () => {
  it('staff may leave; staff may not remove anyone else', async () => {
    const m = await activeMerchant(file.api)
    const s1 = await user('s1')
    const s2 = await user('s2')
    await enlistStaff(file.api, m.ownerToken, s1)
    await enlistStaff(file.api, m.ownerToken, s2)
    const kick = await file.api.delete(`/api/merchant/staff/${s2.id}`, { token: s1.token })
    expect(kick.status).toBe(403)
    expect(kick.body.error.code).toBe('FORBIDDEN')
    expect((await file.api.delete(`/api/merchant/staff/${m.ownerId}`, { token: s1.token })).status).toBe(403)
    expect((await file.api.delete(`/api/merchant/staff/${s1.id}`, { token: s1.token })).status).toBe(204)
    expect((await file.api.get('/api/merchant', { token: s1.token })).status).toBe(403)
    expect((await file.api.get('/api/merchant', { token: s2.token })).status).toBe(200)
    // Having left, the user is free: they may apply for a merchant of their own.
    const applied = await file.api.post(
      '/api/merchants/applications',
      { name: 'Went Solo', contactPhone: '13900000003' },
      { token: s1.token },
    )
    expect(applied.status).toBe(201)
    const audit = await file.api.get('/api/admin/audit-log?limit=100', { token: file.admin })
    expect(audit.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'staff.leave', actorRole: 'merchant_staff', targetId: s1.id }),
        expect.objectContaining({ action: 'staff.invite', actorRole: 'merchant_owner', targetId: s2.id }),
      ]),
    )
  })

  it('the owner can withdraw a pending invitation, which then cannot be accepted', async () => {
    const m = await activeMerchant(file.api)
    const u = await user()
    const inv = await invite(m.ownerToken, u.id)
    expect((await file.api.delete(`/api/merchant/staff/${u.id}`, { token: m.ownerToken })).status).toBe(204)
    const late = await answer(u.token, inv.body.invitationId, 'accept')
    expect(late.status).toBe(409)
    expect((await file.api.get('/api/me/invitations', { token: u.token })).body.items[0].status).toBe(
      'CANCELLED',
    )
    expect((await file.api.delete(`/api/merchant/staff/${u.id}`, { token: m.ownerToken })).status).toBe(404)
  })
})
