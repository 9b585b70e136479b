/**
 * Shared pieces of the hostile-input suites (test/fuzz, test/security): a signed sender that can
 * put any bytes and headers on the wire, the checks every answer must pass, and a snapshot of all
 * business tables so a refused request can be shown to have changed nothing.
 */
import { sql } from 'drizzle-orm'
import fc from 'fast-check'
import { expect } from 'vitest'
import { edgeSignatureHeaders } from '../../shared/edge-signing.ts'
import { ERROR_STATUS } from '../../shared/errors.ts'
import { EDGE_KEY_ID, EDGE_SECRET, type Stack } from '../harness/stack.ts'

/** One seed for every property, overridable to explore: FUZZ_SEED=123 npx vitest run test/fuzz. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20_240_601)
/** Multiplies every property's numRuns (FUZZ_RUNS_SCALE=10 for a long local run). */
export const RUNS_SCALE = Number(process.env.FUZZ_RUNS_SCALE ?? 1)
export const runs = (n: number) => Math.max(1, Math.round(n * RUNS_SCALE))

export interface WireResponse {
  status: number
  headers: Headers
  text: string
  json: any
}

export interface SendOptions {
  /** Bearer token; `authorization` wins when both are given. */
  token?: string
  authorization?: string
  body?: string | Uint8Array
  /** Content-Type to send; null sends none. Defaults to application/json when there is a body. */
  contentType?: string | null
  idempotencyKey?: string
  headers?: Record<string, string>
  /** false: no edge signature (WeChat callbacks). */
  sign?: boolean | { keyId: string; secret: string }
}

const encoder = new TextEncoder()

/**
 * Sends exactly `body`'s bytes to the origin, signed like the edge over the path as fetch will
 * send it (the edge signs `target.pathname + target.search` of the same URL object).
 */
export async function send(
  baseUrl: string,
  method: string,
  path: string,
  opts: SendOptions = {},
): Promise<WireResponse> {
  const url = new URL(path, baseUrl)
  const bytes: Uint8Array<ArrayBuffer> =
    opts.body === undefined
      ? new Uint8Array(0)
      : typeof opts.body === 'string'
        ? encoder.encode(opts.body)
        : new Uint8Array(opts.body)
  // fetch strips leading and trailing whitespace from header values; sign what is sent.
  const authorization = (opts.authorization ?? (opts.token ? `Bearer ${opts.token}` : '')).replace(
    /^[\t ]+|[\t ]+$/g,
    '',
  )
  const headers: Record<string, string> = {}
  const contentType = opts.contentType === undefined ? 'application/json' : opts.contentType
  if (bytes.length > 0 && contentType !== null) headers['content-type'] = contentType
  if (authorization) headers.authorization = authorization
  if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey
  if (opts.sign !== false) {
    const key = typeof opts.sign === 'object' ? opts.sign : { keyId: EDGE_KEY_ID, secret: EDGE_SECRET }
    Object.assign(
      headers,
      await edgeSignatureHeaders(key.keyId, key.secret, {
        method,
        pathWithQuery: url.pathname + url.search,
        body: bytes,
        authorization,
      }),
    )
  }
  Object.assign(headers, opts.headers)
  const canHaveBody = method !== 'GET' && method !== 'HEAD'
  const res = await fetch(url, { method, headers, body: canHaveBody && bytes.length ? bytes : undefined })
  const text = await res.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json }
}

/** What must never be in an answer: stack frames, error class dumps, SQL or driver details. */
export const LEAK_PATTERNS: RegExp[] = [
  /\n\s+at\s/,
  /\bat (?:async )?[\w$.<>[\]]+ \(/,
  /\.[cm]?[jt]s:\d+:\d+/,
  /node:internal|node_modules/,
  /Error:/,
  /"stack"\s*:/,
  /\bER_[A-Z_]{3,}/,
  /\berrno\b|sqlMessage|sqlState/i,
  /Failed query/i,
  /\bselect\b[^"]{0,200}\bfrom\b/i,
  /\binsert\s+into\b|\bdelete\s+from\b|\bupdate\s+`/i,
  /`\w+`\.`\w+`/,
]

/** Generated strings never contain what LEAK_PATTERNS look for, so an echo is not a false alarm. */
export const leakFree = (s: string) => !LEAK_PATTERNS.some((p) => p.test(s))

export function secretsOf(stack: Stack): string[] {
  const env = stack.env
  const edgeSecrets = (env.EDGE_SIGNING_KEYS ?? '').split(',').map((p) => p.slice(p.indexOf(':') + 1))
  const fieldKeys = (env.PHONE_ENCRYPTION_KEYS ?? '')
    .split(',')
    .filter(Boolean)
    .map((p) => p.slice(p.indexOf(':') + 1))
  return [
    env.JWT_SECRET,
    env.WECHAT_APIV3_KEY,
    env.WECHAT_APP_SECRET,
    env.METRICS_TOKEN,
    ...edgeSecrets,
    ...fieldKeys,
    ...pemBodyLines(env.WECHAT_MCH_PRIVATE_KEY),
  ].filter((s): s is string => typeof s === 'string' && s.length >= 8)
}

/** The base64 lines of a PEM block (a leak of any one of them is a leak of the key). */
export function pemBodyLines(pem: string | undefined): string[] {
  return (pem ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('-----'))
}

const ERROR_CODES = new Set(Object.keys(ERROR_STATUS))

/** Every origin answer to a signed /api request: < 500, error format when not 2xx, nothing leaked. */
export function expectWellFormed(res: WireResponse, what: string, secrets: string[] = []): void {
  const ctx = `${what} → ${res.status} ${res.text.slice(0, 300)}`
  expect(res.status, ctx).toBeLessThan(500)
  for (const pattern of LEAK_PATTERNS) expect(pattern.test(res.text), `${ctx} matches ${pattern}`).toBe(false)
  for (const secret of secrets) expect(res.text.includes(secret), `${ctx} contains a secret`).toBe(false)
  const requestId = res.headers.get('x-request-id')
  expect(requestId, ctx).toBeTruthy()
  if (res.status >= 200 && res.status < 300) return
  expect(res.headers.get('content-type') ?? '', ctx).toMatch(/^application\/json/)
  const body = res.json
  expect(body, ctx).toEqual({
    error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
    requestId: expect.any(String),
  })
  expect(
    Object.keys(body.error).every((k) => ['code', 'message', 'details'].includes(k)),
    ctx,
  ).toBe(true)
  expect(ERROR_CODES.has(body.error.code), ctx).toBe(true)
  expect(ERROR_STATUS[body.error.code as keyof typeof ERROR_STATUS], ctx).toBe(res.status)
  expect(body.error.message.length, ctx).toBeGreaterThan(0)
  expect(body.requestId, ctx).toBe(requestId)
}

/** WeChat callbacks answer a refusal with 4xx and {"code":"FAIL","message":...} (API.md §5). */
export function expectCallbackRefused(res: WireResponse, what: string): void {
  const ctx = `${what} → ${res.status} ${res.text.slice(0, 300)}`
  expect(res.status, ctx).toBeGreaterThanOrEqual(400)
  expect(res.status, ctx).toBeLessThan(500)
  expect(res.json, ctx).toEqual({ code: 'FAIL', message: expect.any(String) })
  for (const pattern of LEAK_PATTERNS) expect(pattern.test(res.text), `${ctx} matches ${pattern}`).toBe(false)
}

export type Snapshot = Record<string, string>

/** Row count and checksum of every table but the migration journal: any write shows up here. */
/**
 * State that background jobs change on their own schedule, finishing work an earlier accepted
 * request started (a paid order's shipping upload, sending a queued message, the daily
 * reconciliation): left out, so only a change a request made can differ between two snapshots.
 */
const JOB_OWNED_TABLES = new Set(['outbox', 'reconciliations'])
const JOB_OWNED_ORDER_COLUMNS = /^shipping_/

export async function snapshot(stack: Stack): Promise<Snapshot> {
  const [tableRows] = (await stack.db.primary.execute(sql.raw('SHOW TABLES'))) as unknown as [
    Array<Record<string, string>>,
  ]
  const tables = tableRows
    .map((r) => Object.values(r)[0]!)
    .filter((t) => !t.startsWith('__') && !JOB_OWNED_TABLES.has(t))
  const [sums] = (await stack.db.primary.execute(
    sql.raw(`CHECKSUM TABLE ${tables.map((t) => `\`${t}\``).join(', ')}`),
  )) as unknown as [Array<{ Table: string; Checksum: string | number | null }>]
  const counts = await Promise.all(
    tables.map(async (t) => {
      const [rows] = (await stack.db.primary.execute(
        sql.raw(`SELECT COUNT(*) AS n FROM \`${t}\``),
      )) as unknown as [Array<{ n: number | string }>]
      return [t, String(rows[0]?.n)] as const
    }),
  )
  const out: Snapshot = {}
  for (const [t, n] of counts) out[`${t}.rows`] = n
  for (const s of sums) out[`${String(s.Table).split('.').pop()}.checksum`] = String(s.Checksum)
  out['orders.checksum'] = await ordersChecksum(stack)
  return out
}

/** The orders table's checksum over every column but the shipping job's own. */
async function ordersChecksum(stack: Stack): Promise<string> {
  const [columns] = (await stack.db.primary.execute(
    sql.raw(
      "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'orders' ORDER BY ORDINAL_POSITION",
    ),
  )) as unknown as [Array<{ name: string }>]
  const kept = columns.map((c) => c.name).filter((n) => !JOB_OWNED_ORDER_COLUMNS.test(n))
  const row = kept.map((n) => `COALESCE(\`${n}\`, '\\N')`).join(', ')
  const [rows] = (await stack.db.primary.execute(
    sql.raw(`SELECT COUNT(*) AS n, COALESCE(SUM(CRC32(CONCAT_WS('|', ${row}))), 0) AS sum FROM orders`),
  )) as unknown as [Array<{ n: number | string; sum: number | string }>]
  return `${rows[0]?.n}:${rows[0]?.sum}`
}

export async function count(stack: Stack, table: string): Promise<number> {
  const [rows] = (await stack.db.primary.execute(
    sql.raw(`SELECT COUNT(*) AS n FROM \`${table}\``),
  )) as unknown as [Array<{ n: number | string }>]
  return Number(rows[0]?.n ?? 0)
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** encodeURIComponent that does not throw on lone surrogates (they become U+FFFD). */
export const encodeSegment = (s: string) => encodeURIComponent(s.replace(LONE_SURROGATE, '\ufffd'))

const HOSTILE_STRINGS = [
  '',
  ' ',
  '0',
  '1',
  '-1',
  '100',
  '1e3',
  '0x10',
  ' 1',
  '1 ',
  '１２３',
  'NaN',
  'Infinity',
  'null',
  'true',
  '😀',
  '😀'.repeat(300),
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202e\u200b\ufeff',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  '../../etc/passwd',
  '%00',
  '$'.concat('{7*7}'),
  '{{7*7}}',
  '__proto__',
  'x'.repeat(5_000),
  '9'.repeat(400),
  '13800138000',
  '+8613800138000',
  'merchant_staff',
  'admin',
]

export const hostileString: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 100, maxLength: 800 }) },
  )
  .filter(leakFree)

const NUMBER_TEXTS = [
  '0',
  '-0',
  '-0.0',
  '1',
  '-1',
  '0.5',
  '1.0',
  '1e0',
  '1E2',
  '0.1e1',
  '1e400',
  '-1e400',
  '1e-400',
  '4.9e-324',
  '1e21',
  '2147483648',
  '4294967296',
  '999999999',
  '1000000000',
  '1000000001',
  '100000000',
  '100000001',
  '-100000000',
  '-100000001',
  '1000000',
  '1000001',
  '9007199254740991',
  '9007199254740992',
  '9007199254740993',
  '-9007199254740992',
  '18446744073709551616',
  '123456789012345678901234567890',
]

/** The text of a hostile JSON number, including ones JSON.stringify could never write. */
export const hostileNumberText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NUMBER_TEXTS) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String) },
)

const hostileScalarText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: hostileNumberText },
  { weight: 3, arbitrary: hostileString.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.constantFrom('null', 'true', 'false') },
)

/** Any JSON value as text: scalars, arrays, objects (with duplicate keys), a few levels deep. */
export const hostileJsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: hostileScalarText },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`) },
    {
      weight: 1,
      arbitrary: fc
        .array(
          fc.tuple(
            fc.oneof(fc.constantFrom('__proto__', 'constructor', 'a', 'id'), fc.string()),
            tie('value'),
          ),
          {
            maxLength: 4,
          },
        )
        .map((es) => `{${es.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
    },
  ),
})).value

/** Deep nesting, both arrays and objects, up to what fits in the 64 KiB body limit. */
export const deeplyNested: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 64, max: 20_000 }), fc.boolean())
  .map(([depth, arrays]) =>
    arrays ? '['.repeat(depth) + ']'.repeat(depth) : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  )

/** Bytes that are not UTF-8: lone continuation bytes, overlongs, surrogates, 0xFF. */
export const invalidUtf8: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0xc3, 0x28],
      [0xc0, 0xaf],
      [0xe0, 0x80, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0x80],
      [0xf0, 0x9f, 0x98],
    ),
    fc.boolean(),
  )
  .map(([bad, insideString]) => {
    const before = encoder.encode(insideString ? '{"code":"' : '{')
    const after = encoder.encode(insideString ? '"}' : '}')
    return new Uint8Array([...before, ...bad, ...after])
  })

export type BodyTemplate = Record<string, string>

/** A body built from a valid template: fields dropped, replaced, duplicated, extra keys added. */
export function mutatedBody(template: BodyTemplate): fc.Arbitrary<string> {
  const names = Object.keys(template)
  const fieldEdit = fc.oneof(
    { weight: 3, arbitrary: hostileJsonText.map((v) => ({ kind: 'replace' as const, v })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'drop' as const, v: '' }) },
    { weight: 1, arbitrary: hostileJsonText.map((v) => ({ kind: 'dupAfter' as const, v })) },
    { weight: 1, arbitrary: hostileJsonText.map((v) => ({ kind: 'dupBefore' as const, v })) },
    { weight: 2, arbitrary: fc.constant({ kind: 'keep' as const, v: '' }) },
  )
  const extra = fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom('__proto__', 'constructor', 'roles', 'status', 'userId', 'merchantId', 'id', 'admin'),
        fc.string({ maxLength: 10 }),
      ),
      hostileJsonText,
    ),
    { maxLength: 2 },
  )
  return fc
    .tuple(fc.array(fieldEdit, { minLength: names.length, maxLength: names.length }), extra)
    .map(([edits, extras]) => {
      const entries: string[] = []
      names.forEach((name, i) => {
        const edit = edits[i]!
        const key = JSON.stringify(name)
        if (edit.kind === 'drop') return
        if (edit.kind === 'replace') entries.push(`${key}:${edit.v}`)
        else if (edit.kind === 'dupBefore') entries.push(`${key}:${edit.v}`, `${key}:${template[name]}`)
        else if (edit.kind === 'dupAfter') entries.push(`${key}:${template[name]}`, `${key}:${edit.v}`)
        else entries.push(`${key}:${template[name]}`)
      })
      for (const [k, v] of extras) entries.push(`${JSON.stringify(k)}:${v}`)
      return `{${entries.join(',')}}`
    })
}

const WHOLE_BODIES = [
  '',
  ' ',
  'null',
  'true',
  '0',
  '"x"',
  '[]',
  '[{}]',
  '{}',
  '{',
  '}',
  '{"a":1',
  '{"a":1}}',
  "{'a':1}",
  '{"a":1,}',
  '{"a":01}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":undefined}',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  '{"a" 1}',
  '\ufeff{}',
  'code=x&points=1',
  '<xml/>',
  '{"__proto__":{"admin":true}}',
]

export interface HostileBody {
  bytes: Uint8Array
  label: string
}

/** What goes in a request body: mostly near-valid edits of `template`, then everything else. */
export function hostileBody(template: BodyTemplate): fc.Arbitrary<HostileBody> {
  const text = (label: string) => (s: string) => ({
    bytes: encoder.encode(s),
    label: `${label} ${s.slice(0, 120)}`,
  })
  return fc.oneof(
    { weight: 6, arbitrary: mutatedBody(template).map(text('mutated')) },
    { weight: 2, arbitrary: fc.constantFrom(...WHOLE_BODIES).map(text('whole')) },
    { weight: 1, arbitrary: hostileJsonText.map(text('value')) },
    {
      weight: 1,
      arbitrary: mutatedBody(template).map((b) => text('array of')(`[${b},${b}]`)),
    },
    { weight: 1, arbitrary: deeplyNested.map(text('nested')) },
    { weight: 1, arbitrary: invalidUtf8.map((bytes) => ({ bytes, label: `invalid utf-8 ${[...bytes]}` })) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 60_000, max: 66_000 })
        .map((n) => text('long string')(`{"${Object.keys(template)[0] ?? 'a'}":"${'x'.repeat(n)}"}`)),
    },
  )
}

export const hostileContentType: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom<string | null>(
      null,
      '',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json;charset=utf-16',
      'APPLICATION/JSON',
      'application/merge-patch+json',
      'application/json, text/plain',
      'application/xml',
      'application/jsonx',
      'json',
    ),
  },
)

/** Header values fetch can carry (no CR, LF or NUL): printable ASCII and Latin-1. */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({
    unit: fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)),
    ),
    maxLength: 200,
  }),
  fc.constantFrom('', ' ', 'a'.repeat(4000), 'short', 'a'.repeat(65), 'idem key with spaces', 'ÿÿÿÿÿÿÿÿÿÿ'),
)

export const hostileIdempotencyKey: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/) },
  { weight: 2, arbitrary: headerValue.filter(leakFree) },
)

/** Path segments: numbers past every limit, encodings, traversal, unicode digits, random text. */
const HOSTILE_SEGMENTS = [
  '0',
  '-1',
  '01',
  '1.0',
  '1e3',
  '0x1',
  '%20',
  '%201',
  '%00',
  '%',
  '%ZZ',
  '%C3%28',
  '%F0%9F%98%80',
  '.',
  '%2e%2e',
  '%2F',
  'null',
  'undefined',
  '999999999999999999',
  '9999999999999999999',
  '18446744073709551616',
  '9007199254740993',
  '9'.repeat(300),
  '%EF%BC%91',
  'A'.repeat(8),
  'A'.repeat(33),
  'abc',
]

export function hostileSegment(real: string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).filter(leakFree).map(encodeSegment) },
    { weight: 1, arbitrary: fc.bigInt({ min: 1_000_000n, max: 2n ** 64n }).map(String) },
    ...(real.length ? [{ weight: 1, arbitrary: fc.constantFrom(...real) }] : []),
  )
}

const QUERY_VALUES = [
  '',
  '0',
  '-1',
  '1',
  '100',
  '101',
  '1e2',
  '1.5',
  '0x10',
  '%20100',
  'NaN',
  'Infinity',
  '9'.repeat(30),
  '999999999999999999',
  '1000000000000000000',
  '9007199254740993',
  '%',
  '%ZZ',
  '%00',
  '%C3%28',
  '%F0%9F%98%80',
  '2024-01-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '2024-02-30T00:00:00Z',
  '2024-01-01T00:00:00+14:00',
  '2024-01-01',
  'PAID',
  'paid',
  'ACTIVE',
  'PENDING_REVIEW',
]

/** A query string over `keys` (and strangers), with repeated keys and raw or encoded values. */
export function hostileQuery(keys: string[]): fc.Arbitrary<string> {
  const value = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...QUERY_VALUES) },
    { weight: 2, arbitrary: hostileString.map(encodeSegment) },
  )
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...keys) },
    { weight: 1, arbitrary: fc.constantFrom('limit[]', 'cursor[0]', '__proto__', '', '%ZZ') },
  )
  return fc
    .array(fc.tuple(key, value, fc.boolean()), { maxLength: 5 })
    .map((pairs) =>
      pairs.length === 0
        ? ''
        : `?${pairs.map(([k, v, bare]) => (bare && v === '' ? k : `${k}=${v}`)).join('&')}`,
    )
}
