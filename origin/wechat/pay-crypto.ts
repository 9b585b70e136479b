/**
 * WeChat Pay API v3 cryptography (WECHAT.md §2.1, §2.3, §2.4, §2.5): pure functions on strings, so
 * the origin and the sandbox share one implementation and the official vectors of §5 pin both.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomInt,
  sign,
  verify,
} from 'node:crypto'

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048'
export const RESOURCE_ALGORITHM = 'AEAD_AES_256_GCM'
export const SIGNATURE_MAX_SKEW_SECONDS = 300
/** WeChat deliberately sends wrong signatures with this prefix to probe that merchants verify. */
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/'

const APIV3_KEY_BYTES = 32
const GCM_NONCE_BYTES = 12
const GCM_TAG_BYTES = 16
const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
// Buffer.from(_, 'base64') silently skips junk, so strictness has to be checked up front.
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

export function randomAlphanumeric(length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]
  return out
}

function nowSecondsFromClock(): number {
  return Math.floor(Date.now() / 1000)
}

// Parsing a PEM costs more than the RSA operation itself (0.4 ms of a 0.45 ms verify): keep the
// parsed keys. A process holds a handful of keys, so the caches stay tiny.
const privateKeys = new Map<string, KeyObject>()
const publicKeys = new Map<string, KeyObject>()

function keyFor(cache: Map<string, KeyObject>, pem: string, parse: (pem: string) => KeyObject): KeyObject {
  let key = cache.get(pem)
  if (!key) {
    key = parse(pem)
    cache.set(pem, key)
  }
  return key
}

function rsaSha256Sign(message: string, privateKeyPem: string): string {
  const key = keyFor(privateKeys, privateKeyPem, createPrivateKey)
  return sign('sha256', Buffer.from(message, 'utf8'), key).toString('base64')
}

function rsaSha256Verify(message: string, signatureB64: string, publicKeyPem: string): boolean {
  if (!STRICT_BASE64.test(signatureB64)) return false
  try {
    const key = keyFor(publicKeys, publicKeyPem, createPublicKey)
    return verify('sha256', Buffer.from(message, 'utf8'), key, Buffer.from(signatureB64, 'base64'))
  } catch {
    return false
  }
}

export interface RequestSignatureInput {
  method: string
  /** Path plus `?query` exactly as sent (already URL-encoded). */
  canonicalUrl: string
  timestamp: string
  nonce: string
  /** The exact body bytes sent; '' for GET. */
  body: string
}

export function requestSignMessage(p: RequestSignatureInput): string {
  return `${p.method.toUpperCase()}\n${p.canonicalUrl}\n${p.timestamp}\n${p.nonce}\n${p.body}\n`
}

export interface AuthorizationInput {
  method: string
  canonicalUrl: string
  body: string
  mchid: string
  serialNo: string
  privateKeyPem: string
  timestampSeconds?: number
  nonce?: string
}

export function buildAuthorization(input: AuthorizationInput): string {
  const timestamp = String(input.timestampSeconds ?? nowSecondsFromClock())
  const nonce = input.nonce ?? randomAlphanumeric(32)
  const signature = rsaSha256Sign(
    requestSignMessage({
      method: input.method,
      canonicalUrl: input.canonicalUrl,
      timestamp,
      nonce,
      body: input.body,
    }),
    input.privateKeyPem,
  )
  return `${AUTH_SCHEMA} mchid="${input.mchid}",nonce_str="${nonce}",timestamp="${timestamp}",serial_no="${input.serialNo}",signature="${signature}"`
}

export interface ParsedAuthorization {
  mchid: string
  nonce: string
  timestamp: string
  serialNo: string
  signature: string
}

/** The server side of buildAuthorization (used by the sandbox); null when the header is malformed. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | null {
  if (!header?.startsWith(`${AUTH_SCHEMA} `)) return null
  const fields = new Map<string, string>()
  for (const match of header.slice(AUTH_SCHEMA.length + 1).matchAll(/([a-z_]+)="([^"]*)"/g)) {
    fields.set(match[1]!, match[2]!)
  }
  const mchid = fields.get('mchid')
  const nonce = fields.get('nonce_str')
  const timestamp = fields.get('timestamp')
  const serialNo = fields.get('serial_no')
  const signature = fields.get('signature')
  if (!mchid || !nonce || !timestamp || !serialNo || !signature) return null
  return { mchid, nonce, timestamp, serialNo, signature }
}

export function verifyRequestSignature(
  input: RequestSignatureInput,
  signatureB64: string,
  publicKeyPem: string,
) {
  return rsaSha256Verify(requestSignMessage(input), signatureB64, publicKeyPem)
}

export interface WechatpayMessage {
  timestamp: string
  nonce: string
  body: string
}

function wechatpaySignMessage(m: WechatpayMessage): string {
  return `${m.timestamp}\n${m.nonce}\n${m.body}\n`
}

/** What WeChat does to its responses and notifications; the sandbox uses it. */
export function signWechatpayMessage(m: WechatpayMessage, privateKeyPem: string): string {
  return rsaSha256Sign(wechatpaySignMessage(m), privateKeyPem)
}

export interface WechatpaySignedMessage extends WechatpayMessage {
  signatureB64: string
  serial: string
}

export type SignatureRejection =
  | 'MISSING_HEADERS'
  | 'UNKNOWN_SERIAL'
  | 'STALE_TIMESTAMP'
  | 'SIGNTEST'
  | 'MALFORMED_SIGNATURE'
  | 'BAD_SIGNATURE'

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureRejection }

/** Never throws: every malformed input is a failed verification, so callers answer 4xx, not 500. */
export function verifyWechatpaySignature(
  m: WechatpaySignedMessage,
  key: { publicKeyPem: string; publicKeyId: string },
  nowSeconds: number,
): SignatureCheck {
  if (!m.timestamp || !m.nonce || !m.signatureB64 || !m.serial)
    return { ok: false, reason: 'MISSING_HEADERS' }
  if (m.serial !== key.publicKeyId) return { ok: false, reason: 'UNKNOWN_SERIAL' }
  if (
    !/^\d{1,12}$/.test(m.timestamp) ||
    Math.abs(nowSeconds - Number(m.timestamp)) >= SIGNATURE_MAX_SKEW_SECONDS
  ) {
    return { ok: false, reason: 'STALE_TIMESTAMP' }
  }
  if (m.signatureB64.startsWith(SIGNTEST_PREFIX)) return { ok: false, reason: 'SIGNTEST' }
  if (!STRICT_BASE64.test(m.signatureB64)) return { ok: false, reason: 'MALFORMED_SIGNATURE' }
  return rsaSha256Verify(wechatpaySignMessage(m), m.signatureB64, key.publicKeyPem)
    ? { ok: true }
    : { ok: false, reason: 'BAD_SIGNATURE' }
}

export interface EncryptedResource {
  algorithm?: string
  ciphertext: string
  nonce: string
  associated_data: string
}

export type ResourceDecryptFailure = 'BAD_KEY' | 'UNSUPPORTED_ALGORITHM' | 'MALFORMED' | 'AUTH_FAILED'

export class ResourceDecryptError extends Error {
  readonly reason: ResourceDecryptFailure

  constructor(reason: ResourceDecryptFailure, message: string) {
    super(message)
    this.name = 'ResourceDecryptError'
    this.reason = reason
  }
}

function apiv3KeyBytes(apiv3Key: string): Buffer {
  const key = Buffer.from(apiv3Key, 'utf8')
  if (key.length !== APIV3_KEY_BYTES) throw new ResourceDecryptError('BAD_KEY', 'APIv3 key must be 32 bytes')
  return key
}

function gcmNonceBytes(nonce: string): Buffer {
  const iv = Buffer.from(nonce, 'utf8')
  if (iv.length !== GCM_NONCE_BYTES)
    throw new ResourceDecryptError('MALFORMED', 'resource nonce must be 12 bytes')
  return iv
}

/** AEAD_AES_256_GCM with the APIv3 key; an empty associated_data is legal (WECHAT.md §2.5). */
export function decryptResource(resource: EncryptedResource, apiv3Key: string): string {
  if (resource.algorithm !== undefined && resource.algorithm !== RESOURCE_ALGORITHM) {
    throw new ResourceDecryptError('UNSUPPORTED_ALGORITHM', `unsupported algorithm ${resource.algorithm}`)
  }
  const key = apiv3KeyBytes(apiv3Key)
  const iv = gcmNonceBytes(resource.nonce)
  if (!STRICT_BASE64.test(resource.ciphertext))
    throw new ResourceDecryptError('MALFORMED', 'ciphertext is not base64')
  const sealed = Buffer.from(resource.ciphertext, 'base64')
  if (sealed.length < GCM_TAG_BYTES)
    throw new ResourceDecryptError('MALFORMED', 'ciphertext shorter than the tag')
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  decipher.setAAD(Buffer.from(resource.associated_data, 'utf8'))
  decipher.setAuthTag(sealed.subarray(sealed.length - GCM_TAG_BYTES))
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - GCM_TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8')
  } catch {
    throw new ResourceDecryptError(
      'AUTH_FAILED',
      'resource failed authentication (tampered or wrong APIv3 key)',
    )
  }
}

/** The inverse of decryptResource, as WeChat does it; the sandbox uses it. */
export function encryptResource(
  input: { plaintext: string; associatedData: string; nonce?: string },
  apiv3Key: string,
): Required<EncryptedResource> {
  const nonce = input.nonce ?? randomAlphanumeric(GCM_NONCE_BYTES)
  const cipher = createCipheriv('aes-256-gcm', apiv3KeyBytes(apiv3Key), gcmNonceBytes(nonce))
  cipher.setAAD(Buffer.from(input.associatedData, 'utf8'))
  const sealed = Buffer.concat([cipher.update(input.plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
  return {
    algorithm: RESOURCE_ALGORITHM,
    ciphertext: sealed.toString('base64'),
    nonce,
    associated_data: input.associatedData,
  }
}

export interface PaySignInput {
  appId: string
  timeStamp: string
  nonceStr: string
  /** The full `prepay_id=…` value: signing the bare id is the APP-payment variant and fails in a mini-program. */
  pkg: string
}

export function paySign(input: PaySignInput, privateKeyPem: string): string {
  return rsaSha256Sign(`${input.appId}\n${input.timeStamp}\n${input.nonceStr}\n${input.pkg}\n`, privateKeyPem)
}
