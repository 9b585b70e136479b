import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { toBeijingRfc3339 } from './beijing-time.ts'
import { WechatNotificationError } from './errors.ts'
import {
  TEST_PRIVATE_KEY_PEM,
  TEST_PUBLIC_KEY_PEM,
  V1,
  V2,
  V3_APP_SIGNATURE,
  V52,
  V53,
  V54,
} from './official-vectors.ts'
import {
  buildAuthorization,
  decryptResource,
  encryptResource,
  parseAuthorization,
  paySign,
  ResourceDecryptError,
  signWechatpayMessage,
  verifyRequestSignature,
  verifyWechatpaySignature,
} from './pay-crypto.ts'
import { parsePayNotification } from './pay-notification.ts'
import { toTransaction } from './pay-resources.ts'

const v52Message = {
  timestamp: V52.timestamp,
  nonce: V52.nonce,
  body: V52.body,
  signatureB64: V52.signature,
  serial: V52.serial,
}
const v52Key = { publicKeyPem: V52.publicKeyPem, publicKeyId: V52.serial }
const v52Now = Number(V52.timestamp)

describe('request signing (WECHAT.md §2.1, vector V1)', () => {
  const header = buildAuthorization({ ...V1, privateKeyPem: TEST_PRIVATE_KEY_PEM })

  it('reproduces the official signature byte for byte', () => {
    expect(parseAuthorization(header)?.signature).toBe(V1.signature)
  })

  it('formats the header as WECHATPAY2-SHA256-RSA2048 with the five quoted fields', () => {
    expect(header).toBe(
      `WECHATPAY2-SHA256-RSA2048 mchid="${V1.mchid}",nonce_str="${V1.nonce}",timestamp="${V1.timestampSeconds}",serial_no="${V1.serialNo}",signature="${V1.signature}"`,
    )
  })

  it('is what the server side verifies, and only for the exact body', () => {
    const signed = { method: 'POST', canonicalUrl: V1.canonicalUrl, timestamp: '1554208460', nonce: V1.nonce }
    expect(verifyRequestSignature({ ...signed, body: V1.body }, V1.signature, TEST_PUBLIC_KEY_PEM)).toBe(true)
    expect(
      verifyRequestSignature({ ...signed, body: `${V1.body} ` }, V1.signature, TEST_PUBLIC_KEY_PEM),
    ).toBe(false)
  })

  it('signs a GET with an empty body line and a fresh 32-char nonce and seconds timestamp', () => {
    const parsed = parseAuthorization(
      buildAuthorization({
        ...V1,
        method: 'GET',
        body: '',
        timestampSeconds: undefined,
        nonce: undefined,
        privateKeyPem: TEST_PRIVATE_KEY_PEM,
      }),
    )!
    expect(parsed.nonce).toMatch(/^[0-9A-Za-z]{32}$/)
    expect(parsed.timestamp).toMatch(/^\d{10}$/)
    const signed = {
      method: 'GET',
      canonicalUrl: V1.canonicalUrl,
      timestamp: parsed.timestamp,
      nonce: parsed.nonce,
      body: '',
    }
    expect(verifyRequestSignature(signed, parsed.signature, TEST_PUBLIC_KEY_PEM)).toBe(true)
  })

  it('rejects malformed Authorization headers', () => {
    expect(parseAuthorization(undefined)).toBeNull()
    expect(parseAuthorization('Bearer abc')).toBeNull()
    expect(parseAuthorization('WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="2"')).toBeNull()
  })
})

describe('mini-program paySign (WECHAT.md §2.3, vectors V2 and V3)', () => {
  const input = {
    appId: V2.appId,
    timeStamp: V2.timeStamp,
    nonceStr: V2.nonceStr,
    pkg: `prepay_id=${V2.prepayId}`,
  }

  it('reproduces the official JSAPI paySign', () => {
    expect(paySign(input, TEST_PRIVATE_KEY_PEM)).toBe(V2.signature)
  })

  it('differs from the APP signature, which signs the bare prepay_id', () => {
    expect(paySign(input, TEST_PRIVATE_KEY_PEM)).not.toBe(V3_APP_SIGNATURE)
    expect(paySign({ ...input, pkg: V2.prepayId }, TEST_PRIVATE_KEY_PEM)).toBe(V3_APP_SIGNATURE)
  })
})

describe('response and notification verification (WECHAT.md §2.4, vector 5.2)', () => {
  it('accepts the official sample at its own time', () => {
    expect(verifyWechatpaySignature(v52Message, v52Key, v52Now)).toEqual({ ok: true })
  })

  it('accepts the official Go SDK callback (platform-certificate serial) too', () => {
    const m = { ...V53, signatureB64: V53.signature }
    expect(
      verifyWechatpaySignature(
        m,
        { publicKeyPem: V53.publicKeyPem, publicKeyId: V53.serial },
        Number(V53.timestamp),
      ),
    ).toEqual({
      ok: true,
    })
  })

  it('rejects a body changed by one space', () => {
    expect(verifyWechatpaySignature({ ...v52Message, body: `${V52.body} ` }, v52Key, v52Now)).toEqual({
      ok: false,
      reason: 'BAD_SIGNATURE',
    })
  })

  it('rejects the WECHATPAY/SIGNTEST/ probe without throwing', () => {
    const probe = { ...v52Message, signatureB64: 'WECHATPAY/SIGNTEST/ABCDEFGHIJ+Zm9v' }
    expect(verifyWechatpaySignature(probe, v52Key, v52Now)).toEqual({ ok: false, reason: 'SIGNTEST' })
  })

  it('rejects undecodable base64 without throwing', () => {
    for (const signatureB64 of ['Zm9v!', 'A', 'Zm9v=x==', '####']) {
      expect(verifyWechatpaySignature({ ...v52Message, signatureB64 }, v52Key, v52Now)).toEqual({
        ok: false,
        reason: 'MALFORMED_SIGNATURE',
      })
    }
  })

  it('rejects timestamps 300 s or more away, either side, and non-numeric ones', () => {
    expect(verifyWechatpaySignature(v52Message, v52Key, v52Now + 299).ok).toBe(true)
    expect(verifyWechatpaySignature(v52Message, v52Key, v52Now - 299).ok).toBe(true)
    for (const now of [v52Now + 300, v52Now - 300, v52Now + 86_400]) {
      expect(verifyWechatpaySignature(v52Message, v52Key, now)).toEqual({
        ok: false,
        reason: 'STALE_TIMESTAMP',
      })
    }
    expect(verifyWechatpaySignature({ ...v52Message, timestamp: '1722850421000' }, v52Key, v52Now).ok).toBe(
      false,
    )
    expect(verifyWechatpaySignature({ ...v52Message, timestamp: 'abc' }, v52Key, v52Now).ok).toBe(false)
  })

  it('rejects an unknown serial even when the signature is good', () => {
    expect(verifyWechatpaySignature({ ...v52Message, serial: 'PUB_KEY_ID_OTHER' }, v52Key, v52Now)).toEqual({
      ok: false,
      reason: 'UNKNOWN_SERIAL',
    })
  })

  it('rejects missing headers', () => {
    expect(verifyWechatpaySignature({ ...v52Message, nonce: '' }, v52Key, v52Now)).toEqual({
      ok: false,
      reason: 'MISSING_HEADERS',
    })
  })

  it('rejects a signature made with another key', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    })
    const forged = signWechatpayMessage(v52Message, other.toString())
    expect(verifyWechatpaySignature({ ...v52Message, signatureB64: forged }, v52Key, v52Now)).toEqual({
      ok: false,
      reason: 'BAD_SIGNATURE',
    })
  })
})

describe('resource decryption and the end-to-end notification (WECHAT.md §2.5, vector 5.4)', () => {
  const resource = {
    algorithm: 'AEAD_AES_256_GCM',
    ciphertext: V54.ciphertext,
    nonce: V54.resourceNonce,
    associated_data: V54.associatedData,
  }

  it('decrypts the golden ciphertext', () => {
    expect(decryptResource(resource, V54.apiv3Key)).toBe(V54.plaintext)
  })

  it('encrypts to the golden ciphertext (same key, nonce and AAD), so the sandbox speaks the same format', () => {
    const sealed = encryptResource(
      { plaintext: V54.plaintext, associatedData: V54.associatedData, nonce: V54.resourceNonce },
      V54.apiv3Key,
    )
    expect(sealed.ciphertext).toBe(V54.ciphertext)
  })

  it('signs the golden body to the golden signature, as WeChat does', () => {
    const h = V54.headers
    expect(
      signWechatpayMessage(
        { timestamp: h['Wechatpay-Timestamp'], nonce: h['Wechatpay-Nonce'], body: V54.body },
        TEST_PRIVATE_KEY_PEM,
      ),
    ).toBe(h['Wechatpay-Signature'])
  })

  it('throws a typed AUTH_FAILED error on a tampered ciphertext, AAD or key', () => {
    const bytes = Buffer.from(V54.ciphertext, 'base64')
    bytes[5] = (bytes[5] ?? 0) ^ 0x80
    const cases = [
      [{ ...resource, ciphertext: bytes.toString('base64') }, V54.apiv3Key],
      [{ ...resource, associated_data: 'refund' }, V54.apiv3Key],
      [resource, 'fedcba9876543210fedcba9876543210'],
    ] as const
    for (const [r, key] of cases) {
      expect(() => decryptResource(r, key)).toThrowError(
        expect.objectContaining({ name: 'ResourceDecryptError', reason: 'AUTH_FAILED' }),
      )
    }
  })

  it('refuses keys that are not 32 bytes, other algorithms and junk input', () => {
    const reasonOf = (fn: () => unknown) => {
      try {
        fn()
      } catch (err) {
        return err instanceof ResourceDecryptError ? err.reason : 'other'
      }
      return 'none'
    }
    expect(reasonOf(() => decryptResource(resource, 'testMchAPIv3Key0'))).toBe('BAD_KEY')
    expect(reasonOf(() => decryptResource({ ...resource, algorithm: 'AEAD_SM4_GCM' }, V54.apiv3Key))).toBe(
      'UNSUPPORTED_ALGORITHM',
    )
    expect(reasonOf(() => decryptResource({ ...resource, ciphertext: 'no!' }, V54.apiv3Key))).toBe(
      'MALFORMED',
    )
    expect(reasonOf(() => decryptResource({ ...resource, nonce: 'short' }, V54.apiv3Key))).toBe('MALFORMED')
  })

  it('round-trips with an empty associated_data, which real notifications use', () => {
    const sealed = encryptResource({ plaintext: '{"a":1}', associatedData: '' }, V54.apiv3Key)
    expect(decryptResource(sealed, V54.apiv3Key)).toBe('{"a":1}')
  })

  const keys = { publicKeyPem: TEST_PUBLIC_KEY_PEM, publicKeyId: V54.publicKeyId, apiv3Key: V54.apiv3Key }
  const now = Number(V54.headers['Wechatpay-Timestamp'])

  it('parses the full notification from raw body and headers (any header case)', () => {
    const lower = Object.fromEntries(Object.entries(V54.headers).map(([k, v]) => [k.toLowerCase(), v]))
    const notification = parsePayNotification(lower, V54.body, keys, now)
    expect(notification).toMatchObject({
      id: 'EV-2018022511223320873',
      eventType: 'TRANSACTION.SUCCESS',
      summary: '支付成功',
      originalType: 'transaction',
    })
    expect(notification.resource).toEqual(JSON.parse(V54.plaintext))
    expect(toTransaction(notification.resource)).toMatchObject({
      outTradeNo: '1217752501201407033233368018',
      tradeState: 'SUCCESS',
      amountTotalFen: 100,
      payerOpenid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      appid: 'wxd678efh567hg6787',
      mchid: '1900007291',
    })
    expect(parsePayNotification(new Headers(V54.headers), V54.body, keys, now).eventType).toBe(
      'TRANSACTION.SUCCESS',
    )
  })

  it('rejects the notification when re-serialised, stale, probed or under another serial', () => {
    const reasonOf = (headers: Record<string, string>, body: string, at = now) => {
      try {
        parsePayNotification(headers, body, keys, at)
        return 'accepted'
      } catch (err) {
        return err instanceof WechatNotificationError ? err.reason : 'other'
      }
    }
    const reserialised = JSON.stringify(JSON.parse(V54.body), null, 1)
    expect(reserialised).not.toBe(V54.body)
    expect(reasonOf(V54.headers, reserialised)).toBe('BAD_SIGNATURE')
    expect(reasonOf(V54.headers, V54.body, now + 600)).toBe('STALE_TIMESTAMP')
    expect(reasonOf({ ...V54.headers, 'Wechatpay-Signature': 'WECHATPAY/SIGNTEST/xyz' }, V54.body)).toBe(
      'SIGNTEST',
    )
    expect(reasonOf({ ...V54.headers, 'Wechatpay-Serial': 'PUB_KEY_ID_X' }, V54.body)).toBe('UNKNOWN_SERIAL')
    expect(reasonOf({}, V54.body)).toBe('MISSING_HEADERS')
  })
})

describe('time format', () => {
  it('writes RFC 3339 in +08:00 without milliseconds', () => {
    expect(toBeijingRfc3339(new Date('2024-01-01T04:00:00.123Z'))).toBe('2024-01-01T12:00:00+08:00')
    expect(toBeijingRfc3339(new Date('2024-12-31T20:30:05Z'))).toBe('2025-01-01T04:30:05+08:00')
  })
})
