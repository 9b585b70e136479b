/** /api/merchants in process: bad applications name their field; only ACTIVE merchants have a page. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { activeMerchant, adminToken, enlistStaff, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'

let origin: InProcessOrigin
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
afterAll(async () => {
  await origin?.close()
})

const apply = (token: string, body: unknown) =>
  origin.api.post('/api/merchants/applications', body, { token })
const valid = { name: 'Bakery', contactPhone: '13800138000' }

it.each([
  ['name', { contactPhone: '13800138000' }],
  ['name', { ...valid, name: '' }],
  ['name', { ...valid, name: '\u200b\u202e ' }],
  ['name', { ...valid, name: 'n'.repeat(65) }],
  ['description', { ...valid, description: 'd'.repeat(501) }],
  ['contactPhone', { name: 'Bakery' }],
  ['contactPhone', { ...valid, contactPhone: '12345' }],
  ['contactPhone', { ...valid, contactPhone: '138-0013-8000' }],
])('refuses an application with 400 naming %s (case %#)', async (field, body) => {
  const { token } = await origin.api.login(uniqueOpenid())
  const res = await apply(token, body)
  expect(res.status).toBe(400)
  expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field } })
})

it('refuses an application without a JSON body', async () => {
  const { token } = await origin.api.login(uniqueOpenid())
  const res = await origin.api.call('POST', '/api/merchants/applications', { token })
  expect([res.status, res.body.error.code]).toEqual([400, 'VALIDATION_FAILED'])
})

it('refuses a second application, pending or approved, with 409 INVALID_STATE', async () => {
  const { token } = await origin.api.login(uniqueOpenid())
  expect((await apply(token, valid)).status).toBe(201)
  const again = await apply(token, { ...valid, name: 'Second' })
  expect([again.status, again.body.error.code]).toEqual([409, 'INVALID_STATE'])

  const owner = await activeMerchant(origin.api)
  const more = await apply(owner.ownerToken, { ...valid, name: 'Another' })
  expect([more.status, more.body.error.code]).toEqual([409, 'INVALID_STATE'])
})

it('of two concurrent applications by one user exactly one is accepted', async () => {
  const { token } = await origin.api.login(uniqueOpenid())
  const answers = await Promise.all([apply(token, valid), apply(token, { ...valid, name: 'Twin' })])
  expect(answers.map((r) => r.status).sort()).toEqual([201, 409])
  expect(answers.find((r) => r.status === 409)?.body.error.code).toBe('INVALID_STATE')
})

it('refuses an application from staff of a merchant', async () => {
  const { api } = origin
  const m = await activeMerchant(api)
  const staff = await api.login(uniqueOpenid())
  await enlistStaff(api, m.ownerToken, { token: staff.token, id: staff.user.id })
  const res = await apply(staff.token, valid)
  expect([res.status, res.body.error.code]).toEqual([409, 'INVALID_STATE'])
})

it('answers 404 for malformed, unknown, rejected and suspended merchants alike', async () => {
  const { api } = origin
  const admin = await adminToken(api)
  const rejected = await apply((await api.login(uniqueOpenid())).token, valid)
  expect(
    (await api.post(`/api/admin/merchants/${rejected.body.merchantId}/reject`, undefined, { token: admin }))
      .status,
  ).toBe(200)
  const suspended = await activeMerchant(api)
  expect(
    (await api.post(`/api/admin/merchants/${suspended.merchantId}/suspend`, undefined, { token: admin }))
      .status,
  ).toBe(200)
  for (const id of ['abc', '0', '-1', '999999999', rejected.body.merchantId, suspended.merchantId]) {
    const res = await api.get(`/api/merchants/${id}`)
    expect([id, res.status, res.body.error.code]).toEqual([id, 404, 'NOT_FOUND'])
  }
})
