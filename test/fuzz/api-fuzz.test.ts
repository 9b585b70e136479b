/**
 * Property-based hostile input against every /api endpoint of the origin, sent edge-signed over
 * HTTP: bodies (near-valid edits, wrong types, numbers past every limit, duplicate keys, deep
 * nesting, invalid UTF-8, 64 KiB strings), content types, query strings, path parameters and
 * headers. Every answer must be < 500, in the API.md error format when not 2xx, and leak nothing;
 * a refused request (and any GET) must leave every table exactly as it was.
 *
 * The background jobs are parked (JOB_INTERVAL_MS at its maximum) and every fixture order is paid,
 * so nothing but the request under test can change a row between the two snapshots.
 */
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { apiClient } from '../harness/client.ts'
import {
  activeMerchant,
  adminToken,
  enlistStaff,
  idemKey,
  uniqueOpenid,
  userWithPoints,
} from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'
import {
  type BodyTemplate,
  expectWellFormed,
  FUZZ_SEED,
  type HostileBody,
  headerValue,
  hostileBody,
  hostileContentType,
  hostileIdempotencyKey,
  hostileQuery,
  hostileSegment,
  leakFree,
  runs,
  type Snapshot,
  secretsOf,
  send,
  snapshot,
} from './support.ts'

let stack: Stack
let api: ReturnType<typeof apiClient>
let secrets: string[]

interface Fixtures {
  admin: string
  merchantId: string
  owner: string
  staff: string
  staffId: string
  payer: string
  payerId: string
  orderId: string
  refundId: string
  sender: string
  giftId: string
  giftCode: string
  orderer: string
  applicant: string
  spareUserId: string
  invitee: string
  invitationId: string
  reviewableMerchantId: string
}
let f: Fixtures

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

beforeAll(async () => {
  stack = await startStack({ env: { JOB_INTERVAL_MS: '600000' } })
  api = apiClient(stack.origin.url)
  secrets = secretsOf(stack)
  const admin = await adminToken(api)
  const m = await activeMerchant(api, 'Fuzz Tea')
  const staff = await api.login(uniqueOpenid('staff'))
  await enlistStaff(api, m.ownerToken, { token: staff.token, id: staff.user.id })

  const payer = await api.login(uniqueOpenid('payer'))
  const order = await api.post(
    '/api/orders',
    { merchantId: m.merchantId, amountFen: 10_000 },
    { token: payer.token, idempotencyKey: idemKey() },
  )
  expect(order.status).toBe(201)
  await control(stack.sandbox, 'POST', '/pay', { outTradeNo: order.body.outTradeNo })
  await waitFor('order paid', async () => {
    const o = await api.get(`/api/orders/${order.body.id}`, { token: payer.token })
    return o.body.status === 'PAID' ? true : undefined
  })
  const refund = await api.post(
    `/api/merchant/orders/${order.body.id}/refunds`,
    { amountFen: 100, reason: 'fixture' },
    { token: m.ownerToken, idempotencyKey: idemKey() },
  )
  expect(refund.status).toBe(202)
  await control(stack.sandbox, 'POST', `/refunds/${refund.body.outRefundNo}/complete`, { status: 'SUCCESS' })
  await waitFor('refund settled', async () => {
    const r = await api.get(`/api/merchant/refunds/${refund.body.id}`, { token: m.ownerToken })
    return r.body.status === 'SUCCESS' ? true : undefined
  })

  const sender = await userWithPoints(api, 1_000, m)
  const gift = await api.post('/api/points/gifts', { points: 1 }, { token: sender.token })
  expect(gift.status).toBe(201)

  const reviewable = await api.login(uniqueOpenid('reviewable'))
  const application = await api.post(
    '/api/merchants/applications',
    { name: 'Under Review', contactPhone: '13900000001' },
    { token: reviewable.token },
  )
  expect(application.status).toBe(201)

  const invitee = await api.login(uniqueOpenid('invitee'))
  const invitation = await api.post(
    '/api/merchant/staff',
    { userId: invitee.user.id, role: 'merchant_staff' },
    { token: m.ownerToken },
  )
  expect(invitation.status).toBe(201)

  f = {
    admin,
    merchantId: m.merchantId,
    owner: m.ownerToken,
    staff: staff.token,
    staffId: staff.user.id,
    payer: payer.token,
    payerId: payer.user.id,
    orderId: order.body.id,
    refundId: refund.body.id,
    sender: sender.token,
    giftId: gift.body.id,
    giftCode: gift.body.code,
    orderer: (await api.login(uniqueOpenid('orderer'))).token,
    applicant: (await api.login(uniqueOpenid('applicant'))).token,
    spareUserId: (await api.login(uniqueOpenid('spare'))).user.id,
    reviewableMerchantId: application.body.merchantId,
    invitee: invitee.token,
    invitationId: invitation.body.invitationId,
  }
}, 60_000)

afterEach(async () => {
  expect(await invariants(stack)).toEqual(HOLDS)
})

afterAll(async () => {
  if (stack) {
    const unhandled = stack.origin
      .output()
      .split('\n')
      .filter((l) => l.includes('"unhandled error"'))
      .map((l) => String(JSON.parse(l).error).split('\n')[0]!.slice(0, 160))
    await stack.close()
    expect(unhandled).toEqual([])
  }
})

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
const is2xx = (status: number) => status >= 200 && status < 300

/** Sends one hostile request and checks the answer and, when refused or a read, the tables. */
async function probe(
  label: string,
  method: string,
  path: string,
  opts: {
    token?: string
    authorization?: string
    body?: HostileBody
    contentType?: string | null
    idempotencyKey?: string
    requestId?: string
    headers?: Record<string, string>
  },
) {
  const before: Snapshot = await snapshot(stack)
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.requestId !== undefined) headers['x-request-id'] = opts.requestId
  const res = await send(stack.origin.url, method, path, {
    token: opts.token,
    authorization: opts.authorization,
    body: opts.body?.bytes,
    contentType: opts.contentType,
    idempotencyKey: opts.idempotencyKey,
    headers,
  })
  const after: Snapshot = await snapshot(stack)
  const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k])
  const what = `${method} ${path} [${label}] body=${opts.body?.label.slice(0, 200) ?? '-'} ct=${opts.contentType} idem=${opts.idempotencyKey}${changed.length ? ` (changed ${changed.join(', ')})` : ''}`
  expectWellFormed(res, what, secrets)
  if (opts.requestId !== undefined && REQUEST_ID.test(opts.requestId)) {
    expect(res.headers.get('x-request-id'), what).toBe(opts.requestId)
  }
  if (!is2xx(res.status) || method === 'GET') {
    expect(changed, `${what} → ${res.status} changed state`).toEqual([])
  }
  return res
}

const requestIdArb = fc.option(
  fc.oneof(headerValue.filter(leakFree), fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/)),
  { freq: 3 },
)

interface BodySpec {
  name: string
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  path: () => fc.Arbitrary<string>
  /** The path the fixed corpus uses: the real object, so the body is what gets refused. */
  realPath?: () => string
  token: () => string
  template: () => BodyTemplate
  idem?: boolean
  numRuns?: number
}

interface ReadSpec {
  name: string
  path: () => fc.Arbitrary<string>
  token: () => string | undefined
  queryKeys: string[]
  numRuns?: number
}

const fixed = (p: string) => () => fc.constant(p)
const q = (s: string) => JSON.stringify(s)

const WRITES: BodySpec[] = [
  {
    name: 'POST /api/auth/login',
    method: 'POST',
    path: fixed('/api/auth/login'),
    token: () => '',
    template: () => ({ code: q('code-fuzz-login') }),
  },
  {
    name: 'PATCH /api/me',
    method: 'PATCH',
    path: fixed('/api/me'),
    token: () => f.payer,
    template: () => ({ nickname: q('Fuzzy'), avatarUrl: q('https://img.example/a.png') }),
  },
  {
    name: 'POST /api/merchants/applications',
    method: 'POST',
    path: fixed('/api/merchants/applications'),
    token: () => f.applicant,
    template: () => ({ name: q('Fuzz Shop'), description: q('d'), contactPhone: q('13900139000') }),
  },
  {
    name: 'POST /api/orders',
    method: 'POST',
    path: fixed('/api/orders'),
    token: () => f.orderer,
    template: () => ({ merchantId: q(f.merchantId), amountFen: '100' }),
    idem: true,
  },
  {
    name: 'POST /api/points/gifts',
    method: 'POST',
    path: fixed('/api/points/gifts'),
    token: () => f.sender,
    template: () => ({ points: '2', message: q('hi'), count: '2', split: q('random') }),
    idem: true,
  },
  {
    name: 'POST /api/points/gifts/:code/claim',
    method: 'POST',
    path: () => hostileSegment([f.giftCode]).map((s) => `/api/points/gifts/${s}/claim`),
    realPath: () => `/api/points/gifts/${f.giftCode}/claim`,
    token: () => f.payer,
    template: () => ({}),
  },
  {
    name: 'POST /api/points/gifts/:id/cancel',
    method: 'POST',
    path: () => hostileSegment([f.giftId]).map((s) => `/api/points/gifts/${s}/cancel`),
    realPath: () => `/api/points/gifts/${f.giftId}/cancel`,
    token: () => f.sender,
    template: () => ({}),
  },
  {
    name: 'PATCH /api/merchant',
    method: 'PATCH',
    path: fixed('/api/merchant'),
    token: () => f.owner,
    template: () => ({
      name: q('Fuzz Tea'),
      description: q('Leaf'),
      logoUrl: q('https://img.example/l.png'),
    }),
  },
  {
    name: 'PUT /api/merchant/rule',
    method: 'PUT',
    path: fixed('/api/merchant/rule'),
    token: () => f.owner,
    template: () => ({
      earnPoints: '1',
      perFen: '100',
      minOrderFen: '0',
      maxPointsPerOrder: 'null',
      dailyCapPerUser: 'null',
    }),
  },
  {
    name: 'POST /api/merchant/orders/:id/refunds',
    method: 'POST',
    path: () => hostileSegment([f.orderId]).map((s) => `/api/merchant/orders/${s}/refunds`),
    realPath: () => `/api/merchant/orders/${f.orderId}/refunds`,
    token: () => f.owner,
    template: () => ({ amountFen: '1', reason: q('fuzz') }),
    idem: true,
  },
  {
    name: 'POST /api/merchant/grants',
    method: 'POST',
    path: fixed('/api/merchant/grants'),
    token: () => f.owner,
    template: () => ({ userId: q(f.payerId), points: '1', reason: q('fuzz') }),
    idem: true,
  },
  {
    name: 'POST /api/merchant/staff',
    method: 'POST',
    path: fixed('/api/merchant/staff'),
    token: () => f.owner,
    template: () => ({ userId: q(f.spareUserId), role: q('merchant_staff') }),
  },
  {
    name: 'POST /api/me/invitations/:id/decline',
    method: 'POST',
    path: () => hostileSegment([f.invitationId]).map((s) => `/api/me/invitations/${s}/decline`),
    realPath: () => `/api/me/invitations/${f.invitationId}/decline`,
    token: () => f.invitee,
    template: () => ({}),
  },
  {
    name: 'DELETE /api/merchant/staff/:userId',
    method: 'DELETE',
    path: () => hostileSegment([f.spareUserId]).map((s) => `/api/merchant/staff/${s}`),
    realPath: () => `/api/merchant/staff/${f.spareUserId}`,
    token: () => f.owner,
    template: () => ({}),
  },
  {
    name: 'POST /api/admin/merchants/:id/:action',
    method: 'POST',
    path: () =>
      fc
        .tuple(
          hostileSegment([f.reviewableMerchantId]),
          fc.oneof(fc.constantFrom('approve', 'reject', 'suspend', 'APPROVE', 'delete'), hostileSegment()),
        )
        .map(([id, action]) => `/api/admin/merchants/${id}/${action}`),
    realPath: () => `/api/admin/merchants/${f.reviewableMerchantId}/approve`,
    token: () => f.admin,
    template: () => ({}),
  },
  {
    name: 'POST /api/admin/users/:id/freeze',
    method: 'POST',
    path: () => hostileSegment([f.spareUserId]).map((s) => `/api/admin/users/${s}/freeze`),
    realPath: () => `/api/admin/users/${f.spareUserId}/freeze`,
    token: () => f.admin,
    template: () => ({}),
  },
  {
    name: 'POST /api/admin/adjustments',
    method: 'POST',
    path: fixed('/api/admin/adjustments'),
    token: () => f.admin,
    template: () => ({ userId: q(f.payerId), points: '1', reason: q('fuzz') }),
    idem: true,
  },
]

const READS: ReadSpec[] = [
  { name: 'GET /api/me', path: fixed('/api/me'), token: () => f.payer, queryKeys: ['x'] },
  {
    name: 'GET /api/me/invitations',
    path: fixed('/api/me/invitations'),
    token: () => f.invitee,
    queryKeys: ['limit', 'cursor', 'status'],
  },
  {
    name: 'GET /api/merchants/:id (public)',
    path: () => hostileSegment([f.merchantId]).map((s) => `/api/merchants/${s}`),
    token: () => undefined,
    queryKeys: ['id'],
  },
  {
    name: 'GET /api/orders',
    path: fixed('/api/orders'),
    token: () => f.payer,
    queryKeys: ['limit', 'cursor'],
  },
  {
    name: 'GET /api/orders/:id',
    path: () => hostileSegment([f.orderId]).map((s) => `/api/orders/${s}`),
    token: () => f.payer,
    queryKeys: ['id'],
  },
  {
    name: 'GET /api/points/balance',
    path: fixed('/api/points/balance'),
    token: () => f.payer,
    queryKeys: ['x'],
  },
  {
    name: 'GET /api/points/records',
    path: fixed('/api/points/records'),
    token: () => f.payer,
    queryKeys: ['limit', 'cursor'],
  },
  {
    name: 'GET /api/points/gifts/:code',
    path: () => hostileSegment([f.giftCode]).map((s) => `/api/points/gifts/${s}`),
    token: () => f.payer,
    queryKeys: ['code'],
  },
  { name: 'GET /api/merchant', path: fixed('/api/merchant'), token: () => f.staff, queryKeys: ['id'] },
  {
    name: 'GET /api/merchant/orders',
    path: fixed('/api/merchant/orders'),
    token: () => f.staff,
    queryKeys: ['limit', 'cursor', 'status', 'from', 'to'],
  },
  {
    name: 'GET /api/merchant/refunds/:id',
    path: () => hostileSegment([f.refundId]).map((s) => `/api/merchant/refunds/${s}`),
    token: () => f.staff,
    queryKeys: ['id'],
  },
  {
    name: 'GET /api/merchant/stats',
    path: fixed('/api/merchant/stats'),
    token: () => f.staff,
    queryKeys: ['from', 'to'],
  },
  {
    name: 'GET /api/merchant/qrcode',
    path: fixed('/api/merchant/qrcode'),
    token: () => f.staff,
    queryKeys: ['width'],
    numRuns: 10,
  },
  {
    name: 'GET /api/admin/merchants',
    path: fixed('/api/admin/merchants'),
    token: () => f.admin,
    queryKeys: ['status', 'limit', 'cursor'],
  },
  {
    name: 'GET /api/admin/stats',
    path: fixed('/api/admin/stats'),
    token: () => f.admin,
    queryKeys: ['from'],
  },
  {
    name: 'GET /api/admin/audit-log',
    path: fixed('/api/admin/audit-log'),
    token: () => f.admin,
    queryKeys: ['limit', 'cursor'],
  },
]

/** Every category the brief names, sent to every write, so none is left to chance. */
function corpus(template: BodyTemplate): Array<{ body: HostileBody; contentType: string | null }> {
  const enc = new TextEncoder()
  const render = (entries: Array<[string, string]>) =>
    `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`
  const valid = render(Object.entries(template))
  const names = Object.keys(template)
  const text = (label: string, t: string, contentType: string | null = 'application/json') => ({
    body: { bytes: enc.encode(t), label: `${label}: ${t.slice(0, 80)}` },
    contentType,
  })
  const out = [
    text('empty body', ''),
    text('null', 'null'),
    text('array', '[]'),
    text('array of the valid object', `[${valid}]`),
    text('string', '"x"'),
    text('number', '0'),
    text('empty object', '{}'),
    text('truncated', valid.slice(0, -1)),
    text('byte order mark', `\ufeff${valid}`),
    text('deep arrays', `${'['.repeat(20_000)}${']'.repeat(20_000)}`),
    text('deep objects', `${'{"a":'.repeat(8_000)}1${'}'.repeat(8_000)}`),
    text('over the size limit', render([[names[0] ?? 'a', JSON.stringify('x'.repeat(70_000))]])),
    text('valid body as text/plain', valid, 'text/plain'),
    text('valid body without a content type', valid, null),
    text('valid body as a form', valid, 'application/x-www-form-urlencoded'),
    {
      body: {
        bytes: new Uint8Array([...enc.encode('{"a":"'), 0xff, 0xc3, 0x28, ...enc.encode('"}')]),
        label: 'invalid utf-8',
      },
      contentType: 'application/json',
    },
  ]
  for (const name of names) {
    for (const v of ['-0', '1e400', '9007199254740993', '"100"', '"😀😀"', '"\\ud800"', 'null', '[]', '{}']) {
      out.push(text(`${name}=${v}`, render(Object.entries({ ...template, [name]: v }))))
    }
    out.push(text(`${name} duplicated, hostile last`, render([...Object.entries(template), [name, '"x"']])))
    out.push(text(`${name} duplicated, hostile first`, render([[name, '"x"'], ...Object.entries(template)])))
    out.push(
      text(
        `${name} 60 000 characters`,
        render(Object.entries({ ...template, [name]: JSON.stringify('😀'.repeat(15_000)) })),
      ),
    )
  }
  return out
}

describe('a fixed corpus of hostile bodies on every write', () => {
  for (const spec of WRITES) {
    it(`${spec.name}: every corpus body is refused or accepted cleanly`, async () => {
      const path = spec.realPath?.() ?? fc.sample(spec.path(), { seed: FUZZ_SEED, numRuns: 1 })[0]!
      const failures: string[] = []
      for (const { body, contentType } of corpus(spec.template())) {
        try {
          await probe(`corpus ${spec.name}`, spec.method, path, {
            token: spec.token() || undefined,
            body,
            contentType,
            idempotencyKey: spec.idem ? idemKey() : undefined,
          })
        } catch (err) {
          failures.push((err as Error).message.split('\n')[0]!.slice(0, 400))
        }
      }
      expect(failures).toEqual([])
    })
  }
})

describe('hostile bodies, content types and idempotency keys on every write', () => {
  for (const spec of WRITES) {
    it(`${spec.name}: never 5xx, always the error format, no state change when refused`, async () => {
      await fc.assert(
        fc.asyncProperty(
          spec.path(),
          hostileBody(spec.template()),
          hostileContentType,
          spec.idem ? hostileIdempotencyKey : fc.constant(undefined),
          requestIdArb,
          async (path, body, contentType, idempotencyKey, requestId) => {
            await probe(spec.name, spec.method, path, {
              token: spec.token() || undefined,
              body,
              contentType,
              idempotencyKey,
              requestId: requestId ?? undefined,
            })
          },
        ),
        { seed: FUZZ_SEED, numRuns: runs(spec.numRuns ?? 45) },
      )
    })
  }
})

describe('hostile query strings and path parameters on every read', () => {
  for (const spec of READS) {
    it(`${spec.name}: never 5xx, always the error format, never a state change`, async () => {
      await fc.assert(
        fc.asyncProperty(
          spec.path(),
          hostileQuery(spec.queryKeys),
          requestIdArb,
          async (path, query, requestId) => {
            const res = await probe(spec.name, 'GET', path + query, {
              token: spec.token(),
              requestId: requestId ?? undefined,
            })
            if (res.status === 200 && res.json && 'items' in res.json) {
              expect(Array.isArray(res.json.items)).toBe(true)
              expect(res.json.items.length).toBeLessThanOrEqual(100)
            }
          },
        ),
        { seed: FUZZ_SEED, numRuns: runs(spec.numRuns ?? 35) },
      )
    })
  }
})

describe('hostile headers', () => {
  const targets = () => [
    { method: 'GET', path: '/api/me', body: undefined },
    { method: 'GET', path: '/api/points/balance', body: undefined },
    { method: 'GET', path: '/api/admin/stats', body: undefined },
    { method: 'GET', path: '/api/merchant', body: undefined },
    { method: 'POST', path: '/api/points/gifts', body: '{"points":1}' },
    {
      method: 'POST',
      path: '/api/admin/adjustments',
      body: `{"userId":"${f.payerId}","points":5,"reason":"x"}`,
    },
    {
      method: 'POST',
      path: '/api/merchant/grants',
      body: `{"userId":"${f.payerId}","points":5,"reason":"x"}`,
    },
  ]

  it('garbage, truncated, re-cased and doubled Authorization headers are refused with 401', async () => {
    const valid = () => f.payer
    const authorization = fc.oneof(
      headerValue.filter(leakFree),
      headerValue.filter(leakFree).map((v) => `Bearer ${v}`),
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'bearer TOKEN',
        'BEARER TOKEN',
        'Bearer  TOKEN',
        'Bearer TOKEN TOKEN',
        'Bearer TOKEN,Bearer TOKEN',
        'Basic dXNlcjpwYXNz',
        'Token TOKEN',
        'Bearer TOKEN.',
        'Bearer .TOKEN',
        'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.',
      ),
      fc.tuple(fc.nat(), fc.constantFrom('A', '-', '_', '.', '')).map(([i, c]) => `Bearer MUTATE:${i}:${c}`),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets()), authorization, async (target, auth) => {
        let header = auth.replaceAll('TOKEN', valid())
        const mutate = /^Bearer MUTATE:(\d+):(.*)$/.exec(header)
        if (mutate) {
          const token = valid()
          // Not the last character: its low bits are padding a lenient base64url decoder drops.
          const at = Number(mutate[1]) % (token.length - 1)
          const replacement = mutate[2]! === token[at] ? 'Z' : mutate[2]!
          header = `Bearer ${token.slice(0, at)}${replacement}${token.slice(at + 1)}`
          if (header === `Bearer ${token}`) return
        }
        const res = await probe('authorization', target.method, target.path, {
          authorization: header,
          body:
            target.body === undefined
              ? undefined
              : { bytes: new TextEncoder().encode(target.body), label: target.body },
          idempotencyKey: target.method === 'POST' ? idemKey() : undefined,
        })
        expect(res.status, `Authorization: ${header.slice(0, 80)}`).toBe(401)
        expect(res.json.error.code).toBe('UNAUTHENTICATED')
      }),
      { seed: FUZZ_SEED, numRuns: runs(80) },
    )
  })

  it('hostile X-Client-IP, X-Forwarded-For, X-Request-Id and stray X-Edge-* on signed requests change nothing', async () => {
    const names = fc.constantFrom(
      'x-client-ip',
      'x-forwarded-for',
      'x-real-ip',
      'forwarded',
      'x-request-id',
      'x-edge-user',
      'x-edge-role',
      'x-user-id',
      'x-http-method-override',
      'x-original-url',
      'x-rewrite-url',
      'accept',
      'accept-encoding',
      'cookie',
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...targets()),
        fc.dictionary(names, headerValue.filter(leakFree), { maxKeys: 4 }),
        fc.constantFrom(
          () => f.payer,
          () => f.staff,
        ),
        async (target, headers, who) => {
          await probe('headers', target.method, target.path, {
            token: who(),
            headers,
            body:
              target.body === undefined
                ? undefined
                : { bytes: new TextEncoder().encode(target.body), label: target.body },
            idempotencyKey: target.method === 'POST' ? idemKey() : undefined,
          })
        },
      ),
      { seed: FUZZ_SEED, numRuns: runs(60) },
    )
  })

  it('forged or broken edge signature headers are refused with 401 EDGE_SIGNATURE_INVALID', async () => {
    const now = () => Math.floor(Date.now() / 1000)
    const edgeHeaders = fc.record(
      {
        'x-edge-key-id': fc.oneof(fc.constantFrom('k1', 'K1', 'k1 ', 'k0', ''), headerValue.filter(leakFree)),
        'x-edge-timestamp': fc.oneof(
          fc.constantFrom('0', '-1', '1e10', '99999999999999', 'NaN', ''),
          fc.integer({ min: -1000, max: 1000 }).map((d) => String(now() + d)),
          headerValue.filter(leakFree),
        ),
        'x-edge-nonce': fc.oneof(fc.stringMatching(/^[A-Za-z0-9]{16,64}$/), headerValue.filter(leakFree)),
        'x-edge-signature': fc.oneof(
          fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64')),
          fc.constantFrom('', '=', 'AAAA', 'A'.repeat(44), '*'.repeat(44)),
          headerValue.filter(leakFree),
        ),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets()), edgeHeaders, async (target, headers) => {
        const before = await snapshot(stack)
        const res = await send(stack.origin.url, target.method, target.path, {
          token: f.admin,
          body: target.body,
          sign: false,
          headers,
        })
        expectWellFormed(res, `unsigned ${target.method} ${target.path} ${JSON.stringify(headers)}`, secrets)
        expect(res.status).toBe(401)
        expect(res.json.error.code).toBe('EDGE_SIGNATURE_INVALID')
        expect(await snapshot(stack)).toEqual(before)
      }),
      { seed: FUZZ_SEED, numRuns: runs(60) },
    )
  })
})

describe('unknown routes and methods', () => {
  it('answer 404 (or 401/400) in the error format, never 5xx', async () => {
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND')
    const path = fc
      .array(hostileSegment(['api', 'me', 'orders', 'merchant', 'admin', 'points', 'gifts']), {
        minLength: 1,
        maxLength: 4,
      })
      .map((segs) => `/api/${segs.join('/')}`)
    await fc.assert(
      fc.asyncProperty(method, path, async (m, p) => {
        await probe('route', m, p, { token: f.payer })
      }),
      { seed: FUZZ_SEED, numRuns: runs(60) },
    )
  })
})
