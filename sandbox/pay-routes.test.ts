import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildAuthorization, verifyWechatpaySignature } from '../origin/wechat/pay-crypto.ts'
import { type StartedSandbox, startSandbox } from './server.ts'

let sandbox: StartedSandbox

interface SignOverrides {
  privateKeyPem?: string
  serialNo?: string
  mchid?: string
  timestampSeconds?: number
  signedBody?: string
}

/** A raw v3 call, so each test can break exactly one part of the signature. */
async function v3(method: 'GET' | 'POST', path: string, payload?: unknown, o: SignOverrides = {}) {
  const body = payload === undefined ? '' : JSON.stringify(payload)
  const authorization = buildAuthorization({
    method,
    canonicalUrl: path,
    body: o.signedBody ?? body,
    mchid: o.mchid ?? sandbox.config.mchid,
    serialNo: o.serialNo ?? sandbox.config.mchSerialNo,
    privateKeyPem: o.privateKeyPem ?? sandbox.config.mchPrivateKeyPem,
    timestampSeconds: o.timestampSeconds,
  })
  const res = await fetch(sandbox.url + path, {
    method,
    headers: { Authorization: authorization, Accept: 'application/json', 'Content-Type': 'application/json' },
    body: body || undefined,
  })
  const text = await res.text()
  const verified = verifyWechatpaySignature(
    {
      timestamp: res.headers.get('wechatpay-timestamp') ?? '',
      nonce: res.headers.get('wechatpay-nonce') ?? '',
      signatureB64: res.headers.get('wechatpay-signature') ?? '',
      serial: res.headers.get('wechatpay-serial') ?? '',
      body: text,
    },
    { publicKeyPem: sandbox.config.payPublicKeyPem, publicKeyId: sandbox.config.payPublicKeyId },
    Math.floor(Date.now() / 1000),
  )
  return { status: res.status, json: text ? JSON.parse(text) : undefined, verified: verified.ok }
}

function prepayBody(outTradeNo = `T${randomBytes(8).toString('hex')}`) {
  return {
    appid: sandbox.config.appid,
    mchid: sandbox.config.mchid,
    description: '测试商品',
    out_trade_no: outTradeNo,
    time_expire: '2099-01-01T00:00:00+08:00',
    notify_url: 'http://127.0.0.1:9/api/payment/callback',
    amount: { total: 100, currency: 'CNY' },
    payer: { openid: 'o-1' },
  }
}

beforeAll(async () => {
  sandbox = await startSandbox()
})

afterAll(() => sandbox.close())

describe('request authentication', () => {
  it('accepts a correctly signed prepay and signs its answer', async () => {
    const res = await v3('POST', '/v3/pay/transactions/jsapi', prepayBody())
    expect(res).toMatchObject({ status: 200, verified: true })
    expect(res.json.prepay_id).toMatch(/^wx/)
  })

  it('answers 401 SIGN_ERROR, itself signed, to every broken signature', async () => {
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString()
    const broken: SignOverrides[] = [
      { privateKeyPem: otherKey },
      { serialNo: 'ABCDEF0123456789ABCDEF0123456789ABCDEF01' },
      { mchid: '1900000000' },
      { timestampSeconds: Math.floor(Date.now() / 1000) - 301 },
      { timestampSeconds: Date.now() },
      { signedBody: '{"tampered":true}' },
    ]
    for (const overrides of broken) {
      const res = await v3('POST', '/v3/pay/transactions/jsapi', prepayBody(), overrides)
      expect(res, JSON.stringify(overrides).slice(0, 80)).toMatchObject({
        status: 401,
        verified: true,
        json: { code: 'SIGN_ERROR' },
      })
    }
  })

  it('answers 401 when the Authorization header is missing', async () => {
    const res = await fetch(
      `${sandbox.url}/v3/pay/transactions/out-trade-no/T1?mchid=${sandbox.config.mchid}`,
    )
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'SIGN_ERROR' })
  })

  it('signs the empty body of a 204 close with a bare last line', async () => {
    const body = prepayBody()
    await v3('POST', '/v3/pay/transactions/jsapi', body)
    const res = await v3('POST', `/v3/pay/transactions/out-trade-no/${body.out_trade_no}/close`, {
      mchid: sandbox.config.mchid,
    })
    expect(res).toMatchObject({ status: 204, verified: true, json: undefined })
  })
})

describe('prepay validation and idempotency', () => {
  it('returns the same prepay_id for identical parameters in any key order', async () => {
    const body = prepayBody()
    const first = await v3('POST', '/v3/pay/transactions/jsapi', body)
    const { payer, amount, ...rest } = body
    const reordered = await v3('POST', '/v3/pay/transactions/jsapi', { payer, amount, ...rest })
    expect(reordered.json.prepay_id).toBe(first.json.prepay_id)
  })

  it('refuses the same out_trade_no with different parameters', async () => {
    const body = prepayBody()
    await v3('POST', '/v3/pay/transactions/jsapi', body)
    const res = await v3('POST', '/v3/pay/transactions/jsapi', {
      ...body,
      amount: { total: 101, currency: 'CNY' },
    })
    expect(res).toMatchObject({ status: 400, json: { code: 'INVALID_REQUEST' } })
  })

  it('checks appid, mchid and the field rules', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ appid: 'wx0000000000000000' }, 400, 'APPID_MCHID_NOT_MATCH'],
      [{ mchid: '1900000001' }, 400, 'MCH_NOT_EXISTS'],
      [{ amount: { total: 0, currency: 'CNY' } }, 400, 'PARAM_ERROR'],
      [{ out_trade_no: 'abc' }, 400, 'PARAM_ERROR'],
      [{ notify_url: 'http://127.0.0.1:9/cb?x=1' }, 400, 'PARAM_ERROR'],
      [{ payer: {} }, 400, 'PARAM_ERROR'],
      [{ unknown_field: 1 }, 400, 'PARAM_ERROR'],
    ]
    for (const [patch, status, code] of cases) {
      const res = await v3('POST', '/v3/pay/transactions/jsapi', { ...prepayBody(), ...patch })
      expect(res, JSON.stringify(patch)).toMatchObject({ status, json: { code } })
    }
  })

  it('answers 404 ORDER_NOT_EXIST for an unknown order and 404 for unknown APIs', async () => {
    const unknown = await v3('GET', `/v3/pay/transactions/out-trade-no/NOPE123?mchid=${sandbox.config.mchid}`)
    expect(unknown).toMatchObject({ status: 404, verified: true, json: { code: 'ORDER_NOT_EXIST' } })
    expect((await v3('GET', '/v3/certificates')).status).toBe(404)
  })
})

describe('mini-program APIs', () => {
  it('follows the code-<openid> login convention and checks appid/secret', async () => {
    const q = (code: string, secret = sandbox.config.appSecret) =>
      fetch(
        `${sandbox.url}/sns/jscode2session?appid=${sandbox.config.appid}&secret=${secret}&js_code=${code}&grant_type=authorization_code`,
      ).then((r) => r.json())
    expect(await q('code-oABC')).toMatchObject({ openid: 'oABC' })
    expect(await q('wx-real-looking-code')).toMatchObject({ errcode: 40029 })
    expect(await q('code-oABC', 'bad')).toMatchObject({ errcode: 40125 })
  })

  it('issues a stable token and draws the QR code only for a valid one', async () => {
    const token = await fetch(`${sandbox.url}/cgi-bin/stable_token`, {
      method: 'POST',
      body: JSON.stringify({
        grant_type: 'client_credential',
        appid: sandbox.config.appid,
        secret: sandbox.config.appSecret,
        force_refresh: false,
      }),
    }).then((r) => r.json() as Promise<{ access_token: string; expires_in: number }>)
    expect(token.expires_in).toBeGreaterThan(300)
    const qr = (accessToken: string) =>
      fetch(`${sandbox.url}/wxa/getwxacodeunlimit?access_token=${accessToken}`, {
        method: 'POST',
        body: JSON.stringify({ scene: 'm=1', page: 'pages/pay/index' }),
      })
    const ok = await qr(token.access_token)
    expect(ok.headers.get('content-type')).toBe('image/png')
    expect(await (await qr('bogus')).json()).toMatchObject({ errcode: 40001 })
  })
})
