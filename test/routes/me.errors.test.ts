/** /api/me in process: bad profile input names its field; invitations answer only once, and only if they exist. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { activeMerchant, adminToken, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'

let origin: InProcessOrigin
let token: string
beforeAll(async () => {
  origin = await startInProcessOrigin()
  token = (await origin.api.login(uniqueOpenid())).token
})
afterAll(async () => {
  await origin?.close()
})

it.each([
  ['nickname', { nickname: '' }],
  ['nickname', { nickname: '\u200b\u202e  ' }],
  ['nickname', { nickname: 'x'.repeat(33) }],
  ['nickname', { nickname: 7 }],
  ['avatarUrl', { avatarUrl: 'ftp://img.example.com/a.png' }],
  ['avatarUrl', { avatarUrl: 'not a url' }],
  ['avatarUrl', { avatarUrl: `https://img.example.com/${'a'.repeat(600)}` }],
])('refuses PATCH /api/me with 400 naming %s (case %#)', async (field, body) => {
  const res = await origin.api.patch('/api/me', body, { token })
  expect(res.status).toBe(400)
  expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field } })
})

it('refuses fields a user may not set; an empty PATCH changes nothing', async () => {
  const roles = await origin.api.patch('/api/me', { roles: ['admin'] }, { token })
  expect([roles.status, roles.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
  const before = (await origin.api.get('/api/me', { token })).body
  const empty = await origin.api.patch('/api/me', {}, { token })
  expect([empty.status, empty.body]).toEqual([200, before])
  expect(before.roles).toEqual(['user'])
})

it.each([
  ['limit=0', 'limit'],
  ['limit=101', 'limit'],
  ['cursor=abc', 'cursor'],
  ['status=MAYBE', 'status'],
])('refuses GET /api/me/invitations?%s with 400 naming %s', async (query, field) => {
  const res = await origin.api.get(`/api/me/invitations?${query}`, { token })
  expect([res.status, res.body.error.code, res.body.error.details.field]).toEqual([
    400,
    'VALIDATION_FAILED',
    field,
  ])
})

it('answers 404 for unknown and malformed invitation ids', async () => {
  for (const id of ['999999', '0', 'abc']) {
    for (const verb of ['accept', 'decline']) {
      const res = await origin.api.post(`/api/me/invitations/${id}/${verb}`, undefined, { token })
      expect([id, verb, res.status, res.body.error.code]).toEqual([id, verb, 404, 'NOT_FOUND'])
    }
  }
})

it('answers an invitation once: a second answer, or one for a withdrawn invitation, is 409 INVALID_STATE', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const user = await api.login(uniqueOpenid())
  const invite = async () =>
    (
      await api.post(
        '/api/merchant/staff',
        { userId: user.user.id, role: 'merchant_staff' },
        { token: m.ownerToken },
      )
    ).body.invitationId as string
  const first = await invite()
  expect(
    (await api.post(`/api/me/invitations/${first}/decline`, undefined, { token: user.token })).status,
  ).toBe(200)
  for (const verb of ['accept', 'decline']) {
    const again = await api.post(`/api/me/invitations/${first}/${verb}`, undefined, { token: user.token })
    expect([verb, again.status, again.body.error.code]).toEqual([verb, 409, 'INVALID_STATE'])
  }

  const withdrawn = await invite()
  const removed = await api.delete(`/api/merchant/staff/${user.user.id}`, { token: m.ownerToken })
  expect(removed.status).toBe(204)
  const late = await api.post(`/api/me/invitations/${withdrawn}/accept`, undefined, { token: user.token })
  expect([late.status, late.body.error.code]).toEqual([409, 'INVALID_STATE'])
  expect((await api.get('/api/me', { token: user.token })).body.merchantId).toBeNull()
})

it('refuses to invite a user who owns a merchant, so an owner never becomes staff elsewhere', async () => {
  const { api } = origin
  const inviter = await activeMerchant(api)
  const otherOwner = await activeMerchant(api)
  const invited = await api.post(
    '/api/merchant/staff',
    { userId: otherOwner.ownerId, role: 'merchant_staff' },
    { token: inviter.ownerToken },
  )
  expect([invited.status, invited.body.error.code, invited.body.error.details.field]).toEqual([
    409,
    'INVALID_STATE',
    'userId',
  ])
  expect((await api.get('/api/me/invitations', { token: otherOwner.ownerToken })).body.items).toEqual([])
})

it('of two invitations accepted at once, only one makes the caller staff', async () => {
  const { api } = origin
  const user = await api.login(uniqueOpenid())
  const invitations = []
  for (const name of ['Left', 'Right']) {
    const m = await activeMerchant(api, name)
    const invited = await api.post(
      '/api/merchant/staff',
      { userId: user.user.id, role: 'merchant_staff' },
      { token: m.ownerToken },
    )
    invitations.push({ id: invited.body.invitationId as string, merchantId: m.merchantId })
  }
  const answers = await Promise.all(
    invitations.map((i) => api.post(`/api/me/invitations/${i.id}/accept`, undefined, { token: user.token })),
  )
  expect(answers.map((r) => r.status).sort()).toEqual([200, 409])
  const winner = invitations[answers.findIndex((r) => r.status === 200)]!
  expect((await api.get('/api/me', { token: user.token })).body.merchantId).toBe(winner.merchantId)
})

it('echoes a well-formed X-Request-Id in the error body and header', async () => {
  const res = await origin.api.patch(
    '/api/me',
    { nickname: '' },
    { token, headers: { 'x-request-id': 'route-test:1' } },
  )
  expect(res.status).toBe(400)
  expect(res.headers.get('x-request-id')).toBe('route-test:1')
  expect(res.body.requestId).toBe('route-test:1')
})

it('refuses to accept an invitation from a merchant suspended since with 422 MERCHANT_NOT_ACTIVE; declining still works', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const invitee = async () => {
    const user = await api.login(uniqueOpenid())
    const invited = await api.post(
      '/api/merchant/staff',
      { userId: user.user.id, role: 'merchant_staff' },
      { token: m.ownerToken },
    )
    return { token: user.token, invitationId: invited.body.invitationId as string }
  }
  const a = await invitee()
  const b = await invitee()
  expect(
    (
      await api.post(`/api/admin/merchants/${m.merchantId}/suspend`, undefined, {
        token: await adminToken(api),
      })
    ).status,
  ).toBe(200)
  const accept = await api.post(`/api/me/invitations/${a.invitationId}/accept`, undefined, { token: a.token })
  expect([accept.status, accept.body.error.code]).toEqual([422, 'MERCHANT_NOT_ACTIVE'])
  expect((await api.get('/api/me', { token: a.token })).body.merchantId).toBeNull()
  const decline = await api.post(`/api/me/invitations/${b.invitationId}/decline`, undefined, {
    token: b.token,
  })
  expect([decline.status, decline.body.status]).toEqual([200, 'DECLINED'])
})
