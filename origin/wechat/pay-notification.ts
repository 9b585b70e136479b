/**
 * Parsing a WeChat Pay notification (WECHAT.md §2.5, §2.7): verify the signature over the raw body
 * first, then decrypt. Nothing in the body is believed before both succeed.
 */
import { z } from 'zod'
import { WechatNotificationError } from './errors.ts'
import { decryptResource, ResourceDecryptError, verifyWechatpaySignature } from './pay-crypto.ts'
import {
  type PayRefund,
  type PayTransaction,
  ResourceShapeError,
  toRefund,
  toTransaction,
} from './pay-resources.ts'

export type HeaderSource = Headers | Record<string, string | string[] | undefined>

export interface NotificationKeys {
  publicKeyPem: string
  publicKeyId: string
  apiv3Key: string
}

/**
 * What a verified notification tells us. `malformed`: an event we act on whose resource does not
 * have that event's shape (`of` says which kind it claimed to be); `ignored`: any other event.
 */
export type PayEvent =
  | { kind: 'transaction'; transaction: PayTransaction }
  | { kind: 'refund'; refund: PayRefund }
  | { kind: 'malformed'; of: 'transaction' | 'refund'; error: string }
  | { kind: 'ignored' }

export interface PayNotification {
  id: string
  eventType: string
  createTime?: string
  summary?: string
  originalType?: string
  /** The decrypted resource, still in WeChat's snake_case. */
  resource: Record<string, unknown>
  event: PayEvent
}

const REFUND_EVENTS = new Set(['REFUND.SUCCESS', 'REFUND.CLOSED', 'REFUND.ABNORMAL'])

function payEvent(eventType: string, resource: Record<string, unknown>): PayEvent {
  const of =
    eventType === 'TRANSACTION.SUCCESS' ? 'transaction' : REFUND_EVENTS.has(eventType) ? 'refund' : null
  try {
    if (of === 'transaction') return { kind: 'transaction', transaction: toTransaction(resource) }
    if (of === 'refund') return { kind: 'refund', refund: toRefund(resource) }
    return { kind: 'ignored' }
  } catch (err) {
    if (err instanceof ResourceShapeError && of) return { kind: 'malformed', of, error: err.message }
    throw err
  }
}

const envelopeSchema = z.object({
  id: z.string().min(1),
  create_time: z.string().optional(),
  event_type: z.string().min(1),
  resource_type: z.string().optional(),
  summary: z.string().optional(),
  resource: z.object({
    original_type: z.string().optional(),
    algorithm: z.string(),
    ciphertext: z.string(),
    associated_data: z.string().default(''),
    nonce: z.string(),
  }),
})

function header(headers: HeaderSource, name: string): string {
  if (headers instanceof Headers) return headers.get(name) ?? ''
  const wanted = name.toLowerCase()
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return (Array.isArray(value) ? value[0] : value) ?? ''
  }
  return ''
}

export function parsePayNotification(
  headers: HeaderSource,
  rawBody: string,
  keys: NotificationKeys,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): PayNotification {
  const check = verifyWechatpaySignature(
    {
      timestamp: header(headers, 'wechatpay-timestamp'),
      nonce: header(headers, 'wechatpay-nonce'),
      signatureB64: header(headers, 'wechatpay-signature'),
      serial: header(headers, 'wechatpay-serial'),
      body: rawBody,
    },
    keys,
    nowSeconds,
  )
  if (!check.ok)
    throw new WechatNotificationError(check.reason, `notification signature rejected: ${check.reason}`)

  let envelope: z.infer<typeof envelopeSchema>
  try {
    envelope = envelopeSchema.parse(JSON.parse(rawBody))
  } catch {
    throw new WechatNotificationError('MALFORMED_BODY', 'notification body is not a WeChat Pay envelope')
  }

  let plaintext: string
  try {
    plaintext = decryptResource(envelope.resource, keys.apiv3Key)
  } catch (err) {
    if (err instanceof ResourceDecryptError) throw new WechatNotificationError('DECRYPT_FAILED', err.message)
    throw err
  }
  let resource: unknown
  try {
    resource = JSON.parse(plaintext)
  } catch {
    throw new WechatNotificationError('MALFORMED_BODY', 'decrypted resource is not JSON')
  }
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) {
    throw new WechatNotificationError('MALFORMED_BODY', 'decrypted resource is not an object')
  }
  return {
    id: envelope.id,
    eventType: envelope.event_type,
    createTime: envelope.create_time,
    summary: envelope.summary,
    originalType: envelope.resource.original_type,
    resource: resource as Record<string, unknown>,
    event: payEvent(envelope.event_type, resource as Record<string, unknown>),
  }
}
