/** /api/admin in process: only the admin role gets in; owners, staff and users are refused with 403. */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { activeMerchant, enlistStaff, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'
import { HOLDS } from '../harness/stack.ts'

let origin: InProcessOrigin
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
afterEach(async () => {
  expect(await origin.invariants()).toEqual(HOLDS)
})
afterAll(async () => {
  await origin?.close()
})

const routes = (merchantId: string, userId: string) =>
  [
    ['GET', '/api/admin/merchants', undefined],
    ['POST', `/api/admin/merchants/${merchantId}/approve`, undefined],
    ['POST', `/api/admin/merchants/${merchantId}/reject`, undefined],
    ['POST', `/api/admin/merchants/${merchantId}/suspend`, undefined],
    ['POST', '/api/admin/adjustments', { userId, points: 1000, reason: 'mine' }],
    ['GET', '/api/admin/stats', undefined],
    ['GET', '/api/admin/audit-log', undefined],
  ] as const

it('needs a valid bearer token', async () => {
  for (const [method, path, body] of routes('1', '1')) {
    for (const token of [undefined, 'not-a-jwt']) {
      const res = await origin.api.call(method, path, { token, body })
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

it('refuses a user, a merchant owner and staff with 403, changing nothing', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const staff = await api.login(uniqueOpenid())
  await enlistStaff(api, m.ownerToken, { token: staff.token, id: staff.user.id })
  const user = await api.login(uniqueOpenid())
  const applicant = await api.login(uniqueOpenid())
  const pending = (
    await api.post(
      '/api/merchants/applications',
      { name: 'Self-approved?', contactPhone: '13800138000' },
      { token: applicant.token },
    )
  ).body.merchantId
  for (const token of [user.token, m.ownerToken, staff.token, applicant.token]) {
    for (const [method, path, body] of routes(pending, user.user.id)) {
      const res = await api.call(method, path, { token, body })
      expect([method, path, res.status, res.body.error.code]).toEqual([method, path, 403, 'FORBIDDEN'])
    }
  }
  expect((await api.get(`/api/merchants/${pending}`)).status).toBe(404)
  expect((await api.get('/api/me', { token: applicant.token })).body.roles).toEqual(['user'])
  expect((await api.get('/api/points/balance', { token: user.token })).body.balance).toBe(0)
})

it('a forged token claiming the admin role is refused', async () => {
  const { api } = origin
  const user = await api.login(uniqueOpenid())
  const [header, payload] = user.token.split('.')
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString())
  const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${user.token.split('.')[2]}`
  const res = await api.get('/api/admin/stats', { token: forged })
  expect([res.status, res.body.error.code]).toEqual([401, 'UNAUTHENTICATED'])
})
