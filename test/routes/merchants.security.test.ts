/** /api/merchants in process: applying needs a signed-in user; the public page needs only the edge's signature. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { activeMerchant } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'

let origin: InProcessOrigin
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
afterAll(async () => {
  await origin?.close()
})

it('needs a valid bearer token to apply', async () => {
  for (const token of [undefined, 'not-a-jwt', 'a.b.c']) {
    const res = await origin.api.post(
      '/api/merchants/applications',
      { name: 'Sneaky', contactPhone: '13800138000' },
      { token },
    )
    expect([token, res.status, res.body.error.code]).toEqual([token, 401, 'UNAUTHENTICATED'])
  }
})

it('serves the public page only to signed requests', async () => {
  const { merchantId } = await activeMerchant(origin.api)
  const unsigned = await origin.api.get(`/api/merchants/${merchantId}`, { sign: false })
  expect([unsigned.status, unsigned.body.error.code]).toEqual([401, 'EDGE_SIGNATURE_INVALID'])
  const forged = await origin.api.get(`/api/merchants/${merchantId}`, {
    sign: { secret: 'not-the-edge-secret' },
  })
  expect([forged.status, forged.body.error.code]).toEqual([401, 'EDGE_SIGNATURE_INVALID'])
  expect((await origin.api.get(`/api/merchants/${merchantId}`)).status).toBe(200)
})

it('an owner sees the same public page as anyone: no phone, no owner id', async () => {
  const m = await activeMerchant(origin.api)
  const asOwner = await origin.api.get(`/api/merchants/${m.merchantId}`, { token: m.ownerToken })
  const anonymous = await origin.api.get(`/api/merchants/${m.merchantId}`)
  expect(asOwner.body).toEqual(anonymous.body)
  expect(Object.keys(anonymous.body)).not.toContain('contactPhone')
  expect(Object.keys(anonymous.body)).not.toContain('ownerUserId')
})
