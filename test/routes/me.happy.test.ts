/** /api/me in process: the caller's profile, and staff invitations from being asked to joining. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { activeMerchant, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'

let origin: InProcessOrigin
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
afterAll(async () => {
  await origin?.close()
})

it('shows a new user as a plain user and keeps the profile they set, cleaned of invisible text', async () => {
  const { api } = origin
  const login = await api.login(uniqueOpenid())
  const me = await api.get('/api/me', { token: login.token })
  expect(me.status).toBe(200)
  expect(me.body).toMatchObject({ id: login.user.id, roles: ['user'], merchantId: null })
  expect(typeof me.body.nickname).toBe('string')
  expect(typeof me.body.avatarUrl).toBe('string')

  const patched = await api.patch(
    '/api/me',
    { nickname: ' Li\u202eLei\u200b ', avatarUrl: 'https://img.example.com/a.png' },
    { token: login.token },
  )
  expect(patched.status).toBe(200)
  expect(patched.body).toMatchObject({
    id: login.user.id,
    nickname: 'LiLei',
    avatarUrl: 'https://img.example.com/a.png',
    roles: ['user'],
  })
  const onlyNickname = await api.patch('/api/me', { nickname: 'Han' }, { token: login.token })
  expect(onlyNickname.body).toMatchObject({ nickname: 'Han', avatarUrl: 'https://img.example.com/a.png' })
  expect((await api.get('/api/me', { token: login.token })).body).toMatchObject({ nickname: 'Han' })
})

it('lists an invitation as PENDING, and accepting it makes the caller staff of that merchant', async () => {
  const { api } = origin
  const m = await activeMerchant(api, 'Noodle Bar')
  const user = await api.login(uniqueOpenid())
  const invited = await api.post(
    '/api/merchant/staff',
    { userId: user.user.id, role: 'merchant_staff' },
    { token: m.ownerToken },
  )
  expect(invited.status).toBe(201)

  const list = await api.get('/api/me/invitations', { token: user.token })
  expect(list.status).toBe(200)
  expect(list.body.nextCursor).toBeNull()
  expect(list.body.items).toHaveLength(1)
  expect(list.body.items[0]).toMatchObject({
    id: invited.body.invitationId,
    merchantId: m.merchantId,
    merchantName: 'Noodle Bar',
    role: 'merchant_staff',
    status: 'PENDING',
    respondedAt: null,
  })
  // A pending invitation grants nothing yet.
  expect((await api.get('/api/me', { token: user.token })).body).toMatchObject({ merchantId: null })

  const accepted = await api.post(`/api/me/invitations/${invited.body.invitationId}/accept`, undefined, {
    token: user.token,
  })
  expect(accepted.status).toBe(200)
  expect(accepted.body).toMatchObject({ id: invited.body.invitationId, status: 'ACCEPTED' })
  expect(accepted.body.respondedAt).toEqual(expect.any(String))
  const me = await api.get('/api/me', { token: user.token })
  expect(me.body.roles).toContain('merchant_staff')
  expect(me.body.merchantId).toBe(m.merchantId)

  const pending = await api.get('/api/me/invitations?status=PENDING', { token: user.token })
  expect(pending.body.items).toEqual([])
  const done = await api.get('/api/me/invitations?status=ACCEPTED', { token: user.token })
  expect(done.body.items.map((i: { id: string }) => i.id)).toEqual([invited.body.invitationId])
})

it('declining leaves the caller a plain user, and pages list newest first', async () => {
  const { api } = origin
  const user = await api.login(uniqueOpenid())
  const ids: string[] = []
  for (const name of ['First Shop', 'Second Shop']) {
    const m = await activeMerchant(api, name)
    const invited = await api.post(
      '/api/merchant/staff',
      { userId: user.user.id, role: 'merchant_staff' },
      { token: m.ownerToken },
    )
    ids.push(invited.body.invitationId)
  }
  const first = await api.get('/api/me/invitations?limit=1', { token: user.token })
  expect(first.body.items.map((i: { id: string }) => i.id)).toEqual([ids[1]])
  expect(first.body.nextCursor).toEqual(expect.any(String))
  const second = await api.get(`/api/me/invitations?limit=1&cursor=${first.body.nextCursor}`, {
    token: user.token,
  })
  expect(second.body.items.map((i: { id: string }) => i.id)).toEqual([ids[0]])

  const declined = await api.post(`/api/me/invitations/${ids[0]}/decline`, undefined, { token: user.token })
  expect(declined.status).toBe(200)
  expect(declined.body).toMatchObject({ id: ids[0], status: 'DECLINED', merchantName: 'First Shop' })
  expect((await api.get('/api/me', { token: user.token })).body).toMatchObject({
    roles: ['user'],
    merchantId: null,
  })
})
