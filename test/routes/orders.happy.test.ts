/** POST/GET /api/orders in process: what a payer sees when everything goes right. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { activeMerchant, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'
import { HOLDS } from '../harness/stack.ts'

let origin: InProcessOrigin
beforeAll(async () => {
  origin = await startInProcessOrigin()
})
afterAll(async () => {
  await origin?.close()
})

it('creates a PENDING order once per Idempotency-Key, lists it and shows it to its payer', async () => {
  const { api } = origin
  const { merchantId } = await activeMerchant(api)
  const payer = await api.login(uniqueOpenid())
  const key = idemKey()
  const body = { merchantId, amountFen: 1234 }
  const created = await api.post('/api/orders', body, { token: payer.token, idempotencyKey: key })
  expect(created.status).toBe(201)
  expect(created.body).toMatchObject({ status: 'PENDING', merchantId, amountFen: 1234, expectedPoints: 12 })
  expect(created.body.payParams.signType).toBe('RSA')

  const replay = await api.post('/api/orders', body, { token: payer.token, idempotencyKey: key })
  expect(replay.status).toBe(201)
  expect(replay.headers.get('idempotent-replayed')).toBe('true')
  expect(replay.body.id).toBe(created.body.id)

  const list = await api.get('/api/orders?limit=5', { token: payer.token })
  expect(list.status).toBe(200)
  expect(list.body.items.map((o: { id: string }) => o.id)).toEqual([created.body.id])
  const one = await api.get(`/api/orders/${created.body.id}`, { token: payer.token })
  expect(one.status).toBe(200)
  expect(one.body).toMatchObject({ id: created.body.id, status: 'PENDING', pointsAwarded: 0 })
  expect(await origin.invariants()).toEqual(HOLDS)
})
