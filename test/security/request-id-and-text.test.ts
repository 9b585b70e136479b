/**
 * One request-id alphabet and clean display text (API.md §16). The findings: the edge and the
 * origin accepted different X-Request-Id alphabets, so an error body's `requestId` could differ from
 * the header; nicknames, gift messages and merchant names accepted bidi overrides and zero-width
 * characters, which let one user disguise text that others read.
 */
import { describe, expect, it } from 'vitest'
import { REQUEST_ID_PATTERN } from '../../shared/request-id.ts'
import { activeMerchant, uniqueOpenid, userWithPoints } from '../harness/fixtures.ts'
import { useStack } from '../harness/use-stack.ts'

const file = useStack({ invariantsAfterEach: true })

describe('X-Request-Id', () => {
  it('echoes an id of [A-Za-z0-9._:-]{1,128}, and the error body carries the same id', async () => {
    for (const id of ['abc', 'a.b_c:d-e', 'x'.repeat(128), crypto.randomUUID()]) {
      expect(REQUEST_ID_PATTERN.test(id)).toBe(true)
      const res = await file.api.get('/api/me', { headers: { 'x-request-id': id } })
      expect(res.status).toBe(401)
      expect(res.headers.get('x-request-id')).toBe(id)
      expect(res.body.requestId).toBe(id)
    }
  })

  it('replaces anything else with a generated id, the same in header and body', async () => {
    for (const id of [
      'x'.repeat(129),
      'has space',
      'slash/id',
      'quote"id',
      'semi;colon',
      '<script>',
      'ünï',
    ]) {
      expect(REQUEST_ID_PATTERN.test(id)).toBe(false)
      const res = await file.api.get('/api/me', { headers: { 'x-request-id': id } })
      const header = res.headers.get('x-request-id')!
      expect(header).not.toBe(id)
      expect(header).toMatch(REQUEST_ID_PATTERN)
      expect(res.body.requestId).toBe(header)
    }
  })
})

// Each hides in the text: C0/C1 controls, bidi embeddings/overrides/isolates/marks, zero-width.
const HIDDEN = [
  '\u0000',
  '\u0007',
  '\u001b',
  '\n',
  '\t',
  '\u007f',
  '\u0085',
  '\u009f',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200e',
  '\u200f',
  '\u061c',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufeff',
]
const laced = (visible: string) =>
  [...visible]
    .map((ch, i) => `${ch}${HIDDEN[i % HIDDEN.length]}${HIDDEN[(i * 7 + 3) % HIDDEN.length]}`)
    .join('')

describe('display text', () => {
  it('nickname, gift message, merchant name and description lose hidden characters', async () => {
    const u = await file.api.login(uniqueOpenid('nick'))
    const patched = await file.api.patch('/api/me', { nickname: laced('Alice 张') }, { token: u.token })
    expect(patched.status).toBe(200)
    expect(patched.body.nickname).toBe('Alice 张')

    const sender = await userWithPoints(file.api, 10)
    await file.api.patch('/api/me', { nickname: `gpj\u202e${'exe.'}` }, { token: sender.token })
    const gift = await file.api.post(
      '/api/points/gifts',
      { points: 1, message: laced('Happy 生日!') },
      { token: sender.token },
    )
    expect(gift.status).toBe(201)
    expect(gift.body.message).toBe('Happy 生日!')
    const seen = await file.api.get(`/api/points/gifts/${gift.body.code}`, { token: u.token })
    expect(seen.body).toMatchObject({ message: 'Happy 生日!', sender: { nickname: 'gpjexe.' } })

    const m = await activeMerchant(file.api)
    const edited = await file.api.patch(
      '/api/merchant',
      { name: laced('Tea Shop'), description: laced('Green & black') },
      { token: m.ownerToken },
    )
    expect(edited.status).toBe(200)
    expect(edited.body).toMatchObject({ name: 'Tea Shop', description: 'Green & black' })
    expect((await file.api.get(`/api/merchants/${m.merchantId}`)).body.name).toBe('Tea Shop')

    const applicant = await file.api.login(uniqueOpenid('applicant'))
    const applied = await file.api.post(
      '/api/merchants/applications',
      { name: `\u202eevil${'\u200b'}`, description: 'ok\u2066', contactPhone: '13900000006' },
      { token: applicant.token },
    )
    expect(applied.status).toBe(201)
    const [rows] = (await file.stack.db.primary.execute(
      `SELECT name, description FROM merchants WHERE id = ${Number(applied.body.merchantId)}`,
    )) as unknown as [Array<{ name: string; description: string }>]
    expect(rows[0]).toEqual({ name: 'evil', description: 'ok' })
  })

  it('a required field that is only hidden characters is refused with 400 naming the field', async () => {
    const u = await file.api.login(uniqueOpenid('blank'))
    const blankNick = await file.api.patch('/api/me', { nickname: '\u200b\u202e \u2066' }, { token: u.token })
    expect(blankNick.status).toBe(400)
    expect(blankNick.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'nickname' } })
    const blankName = await file.api.post(
      '/api/merchants/applications',
      { name: '\ufeff\u0000', contactPhone: '13900000007' },
      { token: u.token },
    )
    expect(blankName.status).toBe(400)
    expect(blankName.body.error.details.field).toBe('name')
    expect((await file.api.get('/api/me', { token: u.token })).body.nickname).toBe('')
  })
})
