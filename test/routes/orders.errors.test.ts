/** /api/orders in process: bad input names its field, unknown or malformed ids are 404. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { activeMerchant, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { type InProcessOrigin, startInProcessOrigin } from '../harness/in-process.ts'

let origin: InProcessOrigin
let token: string
let merchantId: string
beforeAll(async () => {
  origin = await startInProcessOrigin()
  merchantId = (await activeMerchant(origin.api)).merchantId
  token = (await origin.api.login(uniqueOpenid())).token
})
afterAll(async () => {
  await origin?.close()
})

it.each([
  [{ merchantId: '1', amountFen: 0 }, 'amountFen'],
  [{ merchantId: '1', amountFen: 1.5 }, 'amountFen'],
  [{ merchantId: 'abc', amountFen: 100 }, 'merchantId'],
  [{ amountFen: 100 }, 'merchantId'],
])('refuses %j with 400 VALIDATION_FAILED naming %s', async (body, field) => {
  const res = await origin.api.post('/api/orders', body, { token })
  expect(res.status).toBe(400)
  expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field } })
})

it('refuses a body that is not declared JSON, and a bad list query', async () => {
  const form = await origin.api.call('POST', '/api/orders', {
    token,
    rawBody: 'merchantId=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  expect([form.status, form.body.error.details.field]).toEqual([400, 'Content-Type'])
  const query = await origin.api.get('/api/orders?limit=1000', { token })
  expect([query.status, query.body.error.details.field]).toEqual([400, 'limit'])
})

it('answers 404 NOT_FOUND for malformed and unknown order ids alike', async () => {
  for (const id of ['does-not-exist', '0', '999999999', 'x'.repeat(300)]) {
    const res = await origin.api.get(`/api/orders/${id}`, { token })
    expect([id, res.status, res.body.error.code]).toEqual([id, 404, 'NOT_FOUND'])
  }
})

it('refuses an Idempotency-Key reused with another body, and a malformed key', async () => {
  const key = idemKey()
  const first = await origin.api.post(
    '/api/orders',
    { merchantId, amountFen: 100 },
    { token, idempotencyKey: key },
  )
  expect(first.status).toBe(201)
  const other = await origin.api.post(
    '/api/orders',
    { merchantId, amountFen: 200 },
    { token, idempotencyKey: key },
  )
  expect([other.status, other.body.error.code]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED'])
  const bad = await origin.api.post(
    '/api/orders',
    { merchantId, amountFen: 200 },
    { token, idempotencyKey: 'short' },
  )
  expect([bad.status, bad.body.error.details.field]).toEqual([400, 'Idempotency-Key'])
})
