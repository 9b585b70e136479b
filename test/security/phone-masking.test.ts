/**
 * A merchant's contact phone is shown in full only to that merchant's owner; every other answer
 * that carries it (admin list, admin review answers, staff's console view, audit log) masks it,
 * and public answers do not carry it at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from '../harness/client.ts'
import { adminToken, enlistStaff, uniqueOpenid } from '../harness/fixtures.ts'
import { type Stack, startStack } from '../harness/stack.ts'

const PHONE = '13912345678'
const PHONE_INTL = '+8615087654321'

let stack: Stack
let api: ReturnType<typeof apiClient>
let admin: string
let owner: string
let staff: string
let merchantId: string
let intlMerchantId: string
const answers: Array<[string, string]> = []

const digitsOf = (phone: string) => phone.replace(/^\+/, '')

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
  admin = await adminToken(api)
  const ownerOpenid = uniqueOpenid('owner')
  const o = await api.login(ownerOpenid)
  const applied = await api.post(
    '/api/merchants/applications',
    { name: 'Phone Tea', contactPhone: PHONE },
    { token: o.token },
  )
  expect(applied.status).toBe(201)
  merchantId = applied.body.merchantId
  const other = await api.login(uniqueOpenid('intl'))
  const intl = await api.post(
    '/api/merchants/applications',
    { name: 'Intl Tea', contactPhone: PHONE_INTL },
    { token: other.token },
  )
  intlMerchantId = intl.body.merchantId
  answers.push([
    'GET /api/admin/merchants?status=PENDING_REVIEW',
    (await api.get('/api/admin/merchants?status=PENDING_REVIEW', { token: admin })).text,
  ])
  const approved = await api.post(`/api/admin/merchants/${merchantId}/approve`, undefined, { token: admin })
  expect(approved.status).toBe(200)
  answers.push(['POST /api/admin/merchants/:id/approve', approved.text])
  const rejected = await api.post(`/api/admin/merchants/${intlMerchantId}/reject`, undefined, {
    token: admin,
  })
  answers.push(['POST /api/admin/merchants/:id/reject', rejected.text])
  answers.push(['GET /api/admin/merchants', (await api.get('/api/admin/merchants', { token: admin })).text])
  answers.push([
    'GET /api/admin/audit-log',
    (await api.get('/api/admin/audit-log?limit=100', { token: admin })).text,
  ])
  owner = (await api.login(ownerOpenid)).token
  const s = await api.login(uniqueOpenid('staff'))
  await enlistStaff(api, owner, { token: s.token, id: s.user.id })
  staff = s.token
  answers.push(['GET /api/merchant (staff)', (await api.get('/api/merchant', { token: staff })).text])
  answers.push(['GET /api/merchants/:id (public)', (await api.get(`/api/merchants/${merchantId}`)).text])
  const suspended = await api.post(`/api/admin/merchants/${merchantId}/suspend`, undefined, { token: admin })
  answers.push(['POST /api/admin/merchants/:id/suspend', suspended.text])
  await api.post(`/api/admin/merchants/${merchantId}/approve`, undefined, { token: admin })
}, 60_000)

afterAll(async () => {
  await stack?.close()
})

describe('contact phone masking', () => {
  it('the owner sees the full number', async () => {
    const res = await api.get('/api/merchant', { token: owner })
    expect(res.status).toBe(200)
    expect(res.body.contactPhone).toBe(PHONE)
  })

  it('no other answer carries a full phone number', () => {
    const unmasked = answers
      .filter(([, text]) => [PHONE, PHONE_INTL].some((p) => text.includes(digitsOf(p))))
      .map(([what, text]) => `${what}: ${text.slice(0, 200)}`)
    expect(unmasked).toEqual([])
  })

  it('admin and staff views still show a recognisable masked number', async () => {
    const list = await api.get('/api/admin/merchants', { token: admin })
    const mine = list.body.items.find((m: { id: string }) => m.id === merchantId)
    expect(mine.contactPhone).not.toBe(PHONE)
    expect(mine.contactPhone).toMatch(/\*/)
    expect(mine.contactPhone.endsWith(PHONE.slice(-4))).toBe(true)
    const staffView = await api.get('/api/merchant', { token: staff })
    expect(staffView.body.contactPhone).toBe(mine.contactPhone)
  })

  it('public merchant pages carry no phone at all', async () => {
    const res = await api.get(`/api/merchants/${merchantId}`)
    expect(res.status).toBe(200)
    expect(res.body).not.toHaveProperty('contactPhone')
  })
})
