/** /api/merchants in process: applying, and the public page an approved merchant's QR code opens. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { adminToken, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'

let origin: InProcessOrigin
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
afterAll(async () => {
  await origin?.close()
})

it('an application is PENDING_REVIEW and its page is public only once approved', async () => {
  const { api } = origin
  const applicant = await api.login(uniqueOpenid())
  const applied = await api.post(
    '/api/merchants/applications',
    { name: 'Dumpling House', description: 'Steamed daily', contactPhone: '+8613800138000' },
    { token: applicant.token },
  )
  expect(applied.status).toBe(201)
  expect(applied.body).toMatchObject({ merchantId: expect.any(String), status: 'PENDING_REVIEW' })
  const id = applied.body.merchantId

  const before = await api.get(`/api/merchants/${id}`)
  expect([before.status, before.body.error.code]).toEqual([404, 'NOT_FOUND'])

  const approved = await api.post(`/api/admin/merchants/${id}/approve`, undefined, {
    token: await adminToken(api),
  })
  expect(approved.status).toBe(200)
  const page = await api.get(`/api/merchants/${id}`)
  expect(page.status).toBe(200)
  expect(page.headers.get('cache-control')).toBe('public, max-age=30')
  expect(page.body).toMatchObject({
    id,
    name: 'Dumpling House',
    description: 'Steamed daily',
    logoUrl: '',
    status: 'ACTIVE',
    rule: { earnPoints: 1, perFen: 100, minOrderFen: 0, maxPointsPerOrder: null, dailyCapPerUser: null },
  })
  // The public page never carries the contact phone or who owns the merchant.
  expect(page.text).not.toContain('13800138000')
  expect(page.body).not.toHaveProperty('ownerUserId')
  expect(page.body).not.toHaveProperty('contactPhone')

  // The same page for a signed-in caller.
  const signedIn = await api.get(`/api/merchants/${id}`, { token: applicant.token })
  expect(signedIn.body).toMatchObject({ id, status: 'ACTIVE' })
})

it('an application without a description gets an empty one, and display text is cleaned', async () => {
  const { api } = origin
  const applicant = await api.login(uniqueOpenid())
  const applied = await api.post(
    '/api/merchants/applications',
    { name: '  Tea\u202e\u200b Corner ', contactPhone: '021555000' },
    { token: applicant.token },
  )
  expect(applied.status).toBe(201)
  await api.post(`/api/admin/merchants/${applied.body.merchantId}/approve`, undefined, {
    token: await adminToken(api),
  })
  const page = await api.get(`/api/merchants/${applied.body.merchantId}`)
  expect(page.body).toMatchObject({ name: 'Tea Corner', description: '' })
})

it('a rejected applicant may apply again, which reopens the same merchant for review', async () => {
  const { api } = origin
  const applicant = await api.login(uniqueOpenid())
  const first = await api.post(
    '/api/merchants/applications',
    { name: 'First Try', contactPhone: '13800138000' },
    { token: applicant.token },
  )
  const admin = await adminToken(api)
  expect(
    (await api.post(`/api/admin/merchants/${first.body.merchantId}/reject`, undefined, { token: admin }))
      .status,
  ).toBe(200)
  const again = await api.post(
    '/api/merchants/applications',
    { name: 'Second Try', contactPhone: '13800138001' },
    { token: applicant.token },
  )
  expect(again.status).toBe(201)
  expect(again.body).toEqual({ merchantId: first.body.merchantId, status: 'PENDING_REVIEW' })
  const listed = await api.get('/api/admin/merchants?status=PENDING_REVIEW', { token: admin })
  expect(listed.body.items.find((m: { id: string }) => m.id === first.body.merchantId)).toMatchObject({
    name: 'Second Try',
  })
})
