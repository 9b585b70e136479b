/**
 * Edge signing key rotation at the origin (API.md §6, §8 EDGE_SIGNING_KEYS=kid:secret[,kid:secret]).
 * test/auth-and-signing.test.ts covers the basic old-key-then-removed case; this covers what a
 * rotation can get wrong: a key id paired with another key's secret, look-alike key ids, writes
 * signed with a removed key, and a full switch to a new key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectWellFormed, send, snapshot } from '../fuzz/support.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, userWithPoints } from '../harness/fixtures.ts'
import { EDGE_KEY_ID, EDGE_SECRET, type Stack, startStack } from '../harness/stack.ts'

const OLD = { keyId: 'k0', secret: 'old-rotation-secret-0123456789' }
const CURRENT = { keyId: EDGE_KEY_ID, secret: EDGE_SECRET }
const NEXT = { keyId: 'k2', secret: 'next-rotation-secret-9876543210' }

let stack: Stack
let api: ReturnType<typeof apiClient>
let user: { id: string; token: string }

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
  const m = await activeMerchant(api, 'Rotation Tea')
  user = await userWithPoints(api, 100, m)
}, 60_000)

afterAll(async () => {
  await stack?.close()
})

const keys = (...ks: Array<{ keyId: string; secret: string }>) =>
  ks.map((k) => `${k.keyId}:${k.secret}`).join(',')

async function balanceWith(key: { keyId: string; secret: string }) {
  return send(stack.origin.url, 'GET', '/api/points/balance', { token: user.token, sign: key })
}

function expectRefused(res: Awaited<ReturnType<typeof send>>, what: string) {
  expectWellFormed(res, what)
  expect(res.status, what).toBe(401)
  expect(res.json.error.code, what).toBe('EDGE_SIGNATURE_INVALID')
}

describe('edge signing key rotation', () => {
  it('while two keys are listed, each verifies only with its own secret', async () => {
    await stack.restartOrigin({ EDGE_SIGNING_KEYS: keys(CURRENT, OLD) })
    expect((await balanceWith(OLD)).status).toBe(200)
    expect((await balanceWith(CURRENT)).status).toBe(200)
    expectRefused(await balanceWith({ keyId: OLD.keyId, secret: CURRENT.secret }), 'k0 id with k1 secret')
    expectRefused(await balanceWith({ keyId: CURRENT.keyId, secret: OLD.secret }), 'k1 id with k0 secret')
    for (const lookalike of ['K0', 'k00', 'k 0', 'k0,k1', 'k0:old', '*', OLD.secret]) {
      expectRefused(
        await balanceWith({ keyId: lookalike, secret: OLD.secret }),
        `key id ${JSON.stringify(lookalike)}`,
      )
    }
  })

  it('once the old key is removed, its signed writes are refused and change nothing', async () => {
    await stack.restartOrigin({ EDGE_SIGNING_KEYS: keys(CURRENT) })
    const before = await snapshot(stack)
    for (const [method, path, body] of [
      ['POST', '/api/points/gifts', '{"points":10}'],
      ['PATCH', '/api/me', '{"nickname":"old key"}'],
      ['GET', '/api/points/balance', undefined],
    ] as const) {
      const res = await send(stack.origin.url, method, path, {
        token: user.token,
        body,
        sign: OLD,
        idempotencyKey: method === 'POST' ? idemKey() : undefined,
      })
      expectRefused(res, `${method} ${path} with the removed key`)
    }
    expect(await snapshot(stack)).toEqual(before)
    expect((await balanceWith(CURRENT)).status).toBe(200)
  })

  it('a full switch to a new key refuses the previous one and accepts the new', async () => {
    await stack.restartOrigin({ EDGE_SIGNING_KEYS: keys(NEXT, CURRENT) })
    expect((await balanceWith(NEXT)).status).toBe(200)
    expect((await balanceWith(CURRENT)).status).toBe(200)
    await stack.restartOrigin({ EDGE_SIGNING_KEYS: keys(NEXT) })
    expect((await balanceWith(NEXT)).status).toBe(200)
    expectRefused(await balanceWith(CURRENT), 'the retired key')
    expectRefused(await balanceWith(OLD), 'the key retired before it')
  })
})
