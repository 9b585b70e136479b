/** /api/orders in process: only signed requests of a real user reach it, and only the payer sees an order. */
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

it('refuses unsigned, wrongly signed and stale requests before anything else', async () => {
  const { token } = await origin.api.login(uniqueOpenid())
  const unsigned = await origin.api.get('/api/orders', { token, sign: false })
  expect([unsigned.status, unsigned.body.error.code]).toEqual([401, 'EDGE_SIGNATURE_INVALID'])
  const forged = await origin.api.get('/api/orders', { token, sign: { secret: 'not-the-edge-secret' } })
  expect([forged.status, forged.body.error.code]).toEqual([401, 'EDGE_SIGNATURE_INVALID'])
  const stale = await origin.api.get('/api/orders', { token, sign: { timestampSeconds: 1_000_000 } })
  expect([stale.status, stale.body.error.code]).toEqual([401, 'EDGE_SIGNATURE_INVALID'])
})

it('needs a valid bearer token', async () => {
  for (const token of [undefined, 'not-a-jwt', 'a.b.c']) {
    const res = await origin.api.get('/api/orders', { token })
    expect([token, res.status, res.body.error.code]).toEqual([token, 401, 'UNAUTHENTICATED'])
  }
})

it("hides another user's order as 404", async () => {
  const { merchantId } = await activeMerchant(origin.api)
  const payer = await origin.api.login(uniqueOpenid())
  const stranger = await origin.api.login(uniqueOpenid())
  const order = await origin.api.post('/api/orders', { merchantId, amountFen: 500 }, { token: payer.token })
  expect(order.status).toBe(201)
  const peek = await origin.api.get(`/api/orders/${order.body.id}`, { token: stranger.token })
  expect([peek.status, peek.body.error.code]).toEqual([404, 'NOT_FOUND'])
  const theirs = await origin.api.get('/api/orders', { token: stranger.token })
  expect(theirs.body.items).toEqual([])
})
