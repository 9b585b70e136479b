/**
 * The reusable parts of the OpenAPI document: the shapes of shared/schemas.ts named as components,
 * the error answer of API.md §1, and the parameters and security several routes share.
 */
import { z } from '@hono/zod-openapi'
import * as S from '../../shared/schemas.ts'

export const ErrorResponse = S.ErrorResponse.openapi('Error')
export const LoginResponse = S.LoginResponse.openapi('LoginResponse')
export const Me = S.Me.openapi('Me')
export const Invitation = S.Invitation.openapi('Invitation')
export const InvitationPage = S.page(S.Invitation).openapi('InvitationPage')
export const PublicMerchant = S.PublicMerchant.openapi('PublicMerchant')
export const Merchant = S.Merchant.openapi('Merchant')
export const MerchantPage = S.page(S.Merchant).openapi('MerchantPage')
export const MerchantApplied = z
  .object({ merchantId: z.string(), status: z.enum(S.MERCHANT_STATUSES) })
  .openapi('MerchantApplied')
export const StaffInvited = S.StaffInvited.openapi('StaffInvited')
export const Balance = S.Balance.openapi('Balance')
export const PointsRecordPage = S.page(S.PointsRecord).openapi('PointsRecordPage')
export const Gift = S.Gift.openapi('Gift')
export const GiftView = S.GiftView.openapi('GiftView')
export const GiftSettled = S.GiftSettled.openapi('GiftSettled')
export const CreatedOrder = S.CreatedOrder.openapi('CreatedOrder')
export const Order = S.Order.openapi('Order')
export const OrderPage = S.page(S.Order).openapi('OrderPage')
export const MerchantOrderPage = S.page(S.MerchantOrder).openapi('MerchantOrderPage')
export const RefundAccepted = S.RefundAccepted.openapi('RefundAccepted')
export const Refund = S.Refund.openapi('Refund')
export const MerchantStats = S.MerchantStats.openapi('MerchantStats')
export const Grant = S.Grant.openapi('Grant')
export const Adjustment = S.Adjustment.openapi('Adjustment')
export const PlatformStats = S.PlatformStats.openapi('PlatformStats')
export const AuditEntryPage = S.page(S.AuditEntry).openapi('AuditEntryPage')

/** Path parameters. Malformed ids answer 404 (see validationHook), so the pattern is the contract. */
export const IdParam = z.object({ id: z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be an id') })
export const UserIdParam = z.object({ userId: z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be an id') })
export const CodeParam = z.object({ code: S.GiftCode })

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

/** A required JSON body: required, so a request without one is validated (and refused) too. */
export const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
})

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'VALIDATION_FAILED: the field is named in details.field',
  401: 'UNAUTHENTICATED (or EDGE_SIGNATURE_INVALID)',
  403: 'FORBIDDEN: the caller lacks the role',
  404: 'NOT_FOUND',
  409: 'IDEMPOTENCY_KEY_REUSED or INVALID_STATE',
  410: 'GIFT_EXPIRED',
  413: 'PAYLOAD_TOO_LARGE',
  422: 'A business rule refused the request',
  429: 'RATE_LIMITED',
  502: 'PAYMENT_PROVIDER_ERROR',
  503: 'ORIGIN_UNAVAILABLE',
}

/** Error answers in the API.md §1 format; every route may also answer 500 INTERNAL. */
export function errors(...statuses: number[]) {
  const answers: Record<string, ReturnType<typeof json<typeof ErrorResponse>>> = {}
  for (const status of [...statuses, 500]) {
    answers[status] = json(ErrorResponse, ERROR_DESCRIPTIONS[status] ?? 'INTERNAL')
  }
  return answers
}

/** What every authenticated /api route may answer besides its own errors. */
export const USER_ERRORS = [400, 401, 403, 413, 429, 503] as const

export const bearer = [{ bearer: [] }]

export const idempotencyKeyHeader = {
  name: 'Idempotency-Key',
  in: 'header' as const,
  required: false,
  description: 'Replays the first answer for the same key and body for 24 h (API.md §1)',
  schema: { type: 'string' as const, pattern: '^[A-Za-z0-9_-]{8,64}$' },
}
