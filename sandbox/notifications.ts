/**
 * Building WeChat Pay notifications exactly as WECHAT.md §2.5/§2.7 describes them: the resource is
 * AES-GCM encrypted with the APIv3 key, the raw body is signed with the platform key. The forgery
 * options exist so tests can send what an attacker or a broken WeChat would.
 */
import { randomUUID } from 'node:crypto'
import {
  AUTH_SCHEMA,
  encryptResource,
  randomAlphanumeric,
  signWechatpayMessage,
} from '../origin/wechat/pay-crypto.ts'
import { nowRfc3339 } from './store.ts'

export interface NotificationKeys {
  payPrivateKeyPem: string
  payPublicKeyId: string
  apiv3Key: string
}

export interface NotificationSpec {
  eventType: string
  /** The plaintext resource (a transaction or refund object); encrypted into the envelope. */
  resource: Record<string, unknown>
  /** Replaces top-level envelope fields, e.g. a fixed `id` for duplicates of one notification. */
  notifyOverrides?: Record<string, unknown>
}

export interface ForgeryOptions {
  /** Sign with another private key (the origin must reject it). */
  signWith?: string
  serial?: string
  timestampSeconds?: number
  nonce?: string
  /** Flip one bit of the ciphertext after encryption but before signing: signature good, AEAD bad. */
  tamperCiphertext?: boolean
  signatureOverride?: string
}

export interface BuiltNotification {
  headers: Record<string, string>
  body: string
}

const SUMMARIES: Record<string, string> = {
  'TRANSACTION.SUCCESS': '支付成功',
  'REFUND.SUCCESS': '退款成功',
  'REFUND.CLOSED': '退款关闭',
  'REFUND.ABNORMAL': '退款异常',
}

function flipFirstBit(ciphertextB64: string): string {
  const bytes = Buffer.from(ciphertextB64, 'base64')
  bytes[0] = (bytes[0] ?? 0) ^ 0x01
  return bytes.toString('base64')
}

export function buildNotificationBody(
  spec: NotificationSpec,
  apiv3Key: string,
  tamperCiphertext = false,
): string {
  const originalType = spec.eventType.startsWith('REFUND.') ? 'refund' : 'transaction'
  const encrypted = encryptResource(
    { plaintext: JSON.stringify(spec.resource), associatedData: originalType },
    apiv3Key,
  )
  const envelope = {
    id: randomUUID(),
    create_time: nowRfc3339(),
    resource_type: 'encrypt-resource',
    event_type: spec.eventType,
    summary: SUMMARIES[spec.eventType] ?? spec.eventType,
    resource: {
      original_type: originalType,
      algorithm: encrypted.algorithm,
      ciphertext: tamperCiphertext ? flipFirstBit(encrypted.ciphertext) : encrypted.ciphertext,
      associated_data: encrypted.associated_data,
      nonce: encrypted.nonce,
    },
    ...spec.notifyOverrides,
  }
  return JSON.stringify(envelope)
}

/** Fresh headers for one delivery attempt: WeChat re-signs each retry, hours apart, with a new timestamp. */
export function signNotification(
  body: string,
  keys: NotificationKeys,
  forgery: ForgeryOptions = {},
): Record<string, string> {
  const timestamp = String(forgery.timestampSeconds ?? Math.floor(Date.now() / 1000))
  const nonce = forgery.nonce ?? randomAlphanumeric(32)
  const signature =
    forgery.signatureOverride ??
    signWechatpayMessage({ timestamp, nonce, body }, forgery.signWith ?? keys.payPrivateKeyPem)
  return {
    'Content-Type': 'application/json',
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature,
    'Wechatpay-Serial': forgery.serial ?? keys.payPublicKeyId,
    'Wechatpay-Signature-Type': AUTH_SCHEMA,
  }
}

export function buildNotification(
  spec: NotificationSpec,
  keys: NotificationKeys,
  forgery: ForgeryOptions = {},
): BuiltNotification {
  const body = buildNotificationBody(spec, keys.apiv3Key, forgery.tamperCiphertext)
  return { headers: signNotification(body, keys, forgery), body }
}
