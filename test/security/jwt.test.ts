/**
 * Bearer tokens at the origin: only an HS256 token signed with JWT_SECRET, unexpired, whose `sub`
 * is a user id, gets in. Everything else — expired, `alg: none`, another algorithm (HS384/HS512 with
 * the real secret, RS256/ES256/PS256 headers over an HMAC, HMAC keyed with a public key), another
 * secret, a tampered payload, a missing or non-numeric `sub` — is 401 UNAUTHENTICATED, on reads and
 * writes alike, and changes nothing.
 */
import { createHmac } from 'node:crypto'
import { sign } from 'hono/jwt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectWellFormed, secretsOf, send, snapshot } from '../fuzz/support.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, adminToken, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
import { HOLDS, invariants, JWT_SECRET, type Stack, startStack } from '../harness/stack.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>
let victim: { id: string; token: string }
let attacker: { id: string; token: string }

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
  const m = await activeMerchant(api, 'JWT Tea')
  victim = await userWithPoints(api, 50, m)
  const a = await api.login(uniqueOpenid('attacker'))
  attacker = { id: a.user.id, token: a.token }
  await adminToken(api)
}, 60_000)

afterAll(async () => {
  await stack?.close()
})

const b64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
const nowS = () => Math.floor(Date.now() / 1000)
const hmac = (hash: 'sha256' | 'sha384' | 'sha512', key: string | Buffer, data: string) =>
  createHmac(hash, key).update(data).digest('base64url')

/** A token with any header, payload and HMAC-SHA256 key (or a literal signature). */
function craft(header: object, payload: object, key: string | Buffer | { signature: string }): string {
  const head = `${b64url(header)}.${b64url(payload)}`
  const sig = typeof key === 'object' && 'signature' in key ? key.signature : hmac('sha256', key, head)
  return `${head}.${sig}`
}

const claims = (over: Record<string, unknown> = {}) => ({
  sub: victim.id,
  roles: ['user'],
  merchantId: null,
  iat: nowS() - 5,
  exp: nowS() + 600,
  ...over,
})

async function hostileTokens(): Promise<Array<[string, string]>> {
  const real = victim.token
  const [h, p, s] = real.split('.') as [string, string, string]
  const publicKeyPem = stack.env.WECHAT_PAY_PUBLIC_KEY!
  const head = (alg: string) => ({ alg, typ: 'JWT' })
  const payloadOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
  const tampered = (over: Record<string, unknown>) => `${h}.${b64url({ ...payloadOf(real), ...over })}.${s}`
  return [
    ['expired', await sign(claims({ exp: nowS() - 10, iat: nowS() - 100 }), JWT_SECRET, 'HS256')],
    ['expiring this very second', await sign(claims({ exp: nowS() }), JWT_SECRET, 'HS256')],
    ['exp as a string', await sign(claims({ exp: String(nowS() + 600) }), JWT_SECRET, 'HS256')],
    ['not yet valid (nbf)', await sign(claims({ nbf: nowS() + 600 }), JWT_SECRET, 'HS256')],
    ['issued in the future (iat)', await sign(claims({ iat: nowS() + 600 }), JWT_SECRET, 'HS256')],
    ['alg none, no signature', craft({ alg: 'none', typ: 'JWT' }, claims(), { signature: '' })],
    ['alg None', craft({ alg: 'None', typ: 'JWT' }, claims(), { signature: '' })],
    ['alg NONE', craft({ alg: 'NONE' }, claims(), { signature: '' })],
    ['alg none with the real signature kept', `${b64url({ alg: 'none', typ: 'JWT' })}.${p}.${s}`],
    ['no alg at all', craft({ typ: 'JWT' }, claims(), JWT_SECRET)],
    ['two parts', `${h}.${p}`],
    ['four parts', `${real}.${s}`],
    ['HS512 re-signed with the real secret', await sign(claims(), JWT_SECRET, 'HS512')],
    ['HS384 re-signed with the real secret', await sign(claims(), JWT_SECRET, 'HS384')],
    ['HS512 header over an HS256 signature', craft(head('HS512'), claims(), JWT_SECRET)],
    ['RS256 header, HMAC-SHA256 with the real secret', craft(head('RS256'), claims(), JWT_SECRET)],
    ['RS256 header, HMAC keyed with the public key PEM', craft(head('RS256'), claims(), publicKeyPem)],
    ['HS256 header, HMAC keyed with the public key PEM', craft(head('HS256'), claims(), publicKeyPem)],
    ['ES256 header, HMAC with the real secret', craft(head('ES256'), claims(), JWT_SECRET)],
    ['PS256 header, HMAC with the real secret', craft(head('PS256'), claims(), JWT_SECRET)],
    ['EdDSA header, HMAC with the real secret', craft(head('EdDSA'), claims(), JWT_SECRET)],
    ['crit header', craft({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, claims(), JWT_SECRET)],
    [
      'jku pointing elsewhere, own key',
      craft({ alg: 'HS256', jku: 'https://evil.example/jwks' }, claims(), 'k'),
    ],
    ['kid path traversal, empty key', craft({ alg: 'HS256', kid: '../../../../dev/null' }, claims(), '')],
    ['wrong secret', await sign(claims(), 'x'.repeat(48), 'HS256')],
    ['empty secret', craft(head('HS256'), claims(), '')],
    ['secret with a trailing space', await sign(claims(), `${JWT_SECRET} `, 'HS256')],
    ['payload swapped to another user, signature kept', tampered({ sub: attacker.id })],
    ['payload given admin roles, signature kept', tampered({ roles: ['user', 'admin'] })],
    ['payload expiry extended, signature kept', tampered({ exp: nowS() + 10 * 365 * 86400 })],
    ['signature of another token', `${h}.${p}.${attacker.token.split('.')[2]}`],
    ['signature truncated', `${h}.${p}.${s.slice(0, -4)}`],
    ['signature empty', `${h}.${p}.`],
    ['missing sub', await sign(claims({ sub: undefined }), JWT_SECRET, 'HS256')],
    ['sub null', await sign(claims({ sub: null }), JWT_SECRET, 'HS256')],
    ['sub a number', await sign(claims({ sub: Number(victim.id) }), JWT_SECRET, 'HS256')],
    ['sub a list', await sign(claims({ sub: [victim.id] }), JWT_SECRET, 'HS256')],
    ['sub an object', await sign(claims({ sub: { id: victim.id } }), JWT_SECRET, 'HS256')],
    ['sub empty', await sign(claims({ sub: '' }), JWT_SECRET, 'HS256')],
    ['sub non-numeric', await sign(claims({ sub: 'admin' }), JWT_SECRET, 'HS256')],
    ['sub an openid', await sign(claims({ sub: 'admin-openid' }), JWT_SECRET, 'HS256')],
    ['sub 0', await sign(claims({ sub: '0' }), JWT_SECRET, 'HS256')],
    ['sub negative', await sign(claims({ sub: `-${victim.id}` }), JWT_SECRET, 'HS256')],
    ['sub zero-padded', await sign(claims({ sub: `0${victim.id}` }), JWT_SECRET, 'HS256')],
    ['sub decimal', await sign(claims({ sub: `${victim.id}.0` }), JWT_SECRET, 'HS256')],
    ['sub exponent', await sign(claims({ sub: '1e1' }), JWT_SECRET, 'HS256')],
    ['sub padded with spaces', await sign(claims({ sub: ` ${victim.id} ` }), JWT_SECRET, 'HS256')],
    ['sub full-width digits', await sign(claims({ sub: '１' }), JWT_SECRET, 'HS256')],
    ['sub past 2^64', await sign(claims({ sub: '99999999999999999999' }), JWT_SECRET, 'HS256')],
  ]
}

const ENDPOINTS: Array<{ method: string; path: string; body?: string }> = [
  { method: 'GET', path: '/api/me' },
  { method: 'GET', path: '/api/points/balance' },
  { method: 'GET', path: '/api/points/records' },
  { method: 'GET', path: '/api/orders' },
  { method: 'POST', path: '/api/points/gifts', body: '{"points":1}' },
  { method: 'PATCH', path: '/api/me', body: '{"nickname":"pwned"}' },
  { method: 'GET', path: '/api/merchant' },
  { method: 'GET', path: '/api/admin/stats' },
]

describe('hostile bearer tokens at the origin', () => {
  it('the genuine token works (control)', async () => {
    const res = await send(stack.origin.url, 'GET', '/api/me', { token: victim.token })
    expect(res.status).toBe(200)
    expect(res.json.id).toBe(victim.id)
  })

  it('refuses every forged, altered, expired or malformed token with 401 and changes nothing', async () => {
    const before = await snapshot(stack)
    const secrets = secretsOf(stack)
    const accepted: string[] = []
    for (const [name, token] of await hostileTokens()) {
      for (const e of ENDPOINTS) {
        const res = await send(stack.origin.url, e.method, e.path, { token, body: e.body })
        expectWellFormed(res, `${name}: ${e.method} ${e.path}`, secrets)
        if (res.status !== 401 || res.json?.error?.code !== 'UNAUTHENTICATED')
          accepted.push(`${name}: ${e.method} ${e.path} → ${res.status} ${res.text.slice(0, 120)}`)
      }
    }
    expect(accepted).toEqual([])
    expect(await snapshot(stack)).toEqual(before)
    expect(await invariants(stack)).toEqual(HOLDS)
  })

  it('a correctly signed token naming no user gains nothing and writes nothing', async () => {
    const ghost = await sign(claims({ sub: '999999999999' }), JWT_SECRET, 'HS256')
    const before = await snapshot(stack)
    const me = await send(stack.origin.url, 'GET', '/api/me', { token: ghost })
    expect(me.status).toBe(401)
    for (const e of ENDPOINTS) {
      const res = await send(stack.origin.url, e.method, e.path, { token: ghost, body: e.body })
      expectWellFormed(res, `ghost ${e.method} ${e.path}`)
      if (e.method !== 'GET') expect(res.status, `${e.method} ${e.path}`).toBeGreaterThanOrEqual(400)
    }
    expect(await snapshot(stack)).toEqual(before)
  })

  it('a correctly signed token without exp is refused too (it would never expire)', async () => {
    const forever = await sign({ sub: victim.id, roles: ['user'], merchantId: null }, JWT_SECRET, 'HS256')
    const res = await send(stack.origin.url, 'GET', '/api/me', { token: forever })
    expect(res.status, res.text).toBe(401)
    expect(res.json.error.code).toBe('UNAUTHENTICATED')
  })

  it('ignores role and merchant claims in a validly signed token: roles come from the database', async () => {
    const m = await activeMerchant(api, 'Claimed')
    const boosted = await sign(
      claims({ sub: attacker.id, roles: ['user', 'admin', 'merchant_owner'], merchantId: m.merchantId }),
      JWT_SECRET,
      'HS256',
    )
    const before = await snapshot(stack)
    for (const [method, path, body] of [
      ['GET', '/api/admin/stats', undefined],
      ['GET', '/api/admin/merchants', undefined],
      ['POST', '/api/admin/adjustments', `{"userId":"${attacker.id}","points":1000,"reason":"x"}`],
      ['GET', '/api/merchant', undefined],
      ['POST', '/api/merchant/grants', `{"userId":"${attacker.id}","points":1000,"reason":"x"}`],
    ] as const) {
      const res = await send(stack.origin.url, method, path, { token: boosted, body })
      expect(res.status, `${method} ${path} ${res.text}`).toBe(403)
      expect(res.json.error.code).toBe('FORBIDDEN')
    }
    expect(await snapshot(stack)).toEqual(before)
    const me = await send(stack.origin.url, 'GET', '/api/me', { token: boosted })
    expect(me.json).toMatchObject({ id: attacker.id, roles: ['user'], merchantId: null })
  })
})
