/** /api/me in process: a token is required, and one user cannot see or answer another's invitations. */
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

it('needs a valid bearer token on every /api/me route', async () => {
  const calls = [
    ['GET', '/api/me'],
    ['PATCH', '/api/me'],
    ['GET', '/api/me/invitations'],
    ['POST', '/api/me/invitations/1/accept'],
    ['POST', '/api/me/invitations/1/decline'],
  ] as const
  for (const [method, path] of calls) {
    for (const token of [undefined, 'not-a-jwt']) {
      const res = await origin.api.call(method, path, {
        token,
        body: method === 'PATCH' ? { nickname: 'x' } : undefined,
      })
      expect([method, path, token, res.status, res.body.error.code]).toEqual([
        method,
        path,
        token,
        401,
        'UNAUTHENTICATED',
      ])
    }
  }
})

it("hides another user's invitation: not listed, and answering it is 404 with nothing changed", async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const invitee = await api.login(uniqueOpenid())
  const stranger = await api.login(uniqueOpenid())
  const invited = await api.post(
    '/api/merchant/staff',
    { userId: invitee.user.id, role: 'merchant_staff' },
    { token: m.ownerToken },
  )
  expect(invited.status).toBe(201)
  expect((await api.get('/api/me/invitations', { token: stranger.token })).body.items).toEqual([])
  for (const verb of ['accept', 'decline']) {
    const res = await api.post(`/api/me/invitations/${invited.body.invitationId}/${verb}`, undefined, {
      token: stranger.token,
    })
    expect([verb, res.status, res.body.error.code]).toEqual([verb, 404, 'NOT_FOUND'])
  }
  expect((await api.get('/api/me', { token: stranger.token })).body.merchantId).toBeNull()
  const still = await api.get('/api/me/invitations', { token: invitee.token })
  expect(still.body.items[0]).toMatchObject({ id: invited.body.invitationId, status: 'PENDING' })
})

it('a profile edit changes only the caller', async () => {
  const { api } = origin
  const a = await api.login(uniqueOpenid())
  const b = await api.login(uniqueOpenid())
  const before = (await api.get('/api/me', { token: b.token })).body
  expect((await api.patch('/api/me', { nickname: 'Only A' }, { token: a.token })).status).toBe(200)
  expect((await api.get('/api/me', { token: b.token })).body).toEqual(before)
  expect((await api.get('/api/me', { token: a.token })).body.id).toBe(a.user.id)
})
