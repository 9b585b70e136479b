/**
 * The reusable parts of the OpenAPI document: the shapes of shared/schemas.ts named as components,
 * the error answer of API.md §1, and the parameters and security several routes share.
 */
import { z } from '@hono/zod-openapi'
import * as S from '../../shared/schemas.ts'

/**
 * Names a schema as a component. `.openapi` is added to zod when @hono/zod-openapi loads, and
 * shared/schemas.ts may be evaluated before that (the edge imports it without the plugin), so the
 * method is taken from zod's prototype rather than from the schema.
 */
const named = <T extends z.ZodType>(schema: T, name: string): T =>
  z.ZodType.prototype.openapi.call(schema, name) as T

export const ErrorResponse = named(S.ErrorResponse, 'Error')
export const LoginResponse = named(S.LoginResponse, 'LoginResponse')
export const Me = named(S.Me, 'Me')
export const Invitation = named(S.Invitation, 'Invitation')
export const InvitationPage = named(S.page(S.Invitation), 'InvitationPage')
export const PublicMerchant = named(S.PublicMerchant, 'PublicMerchant')
export const Merchant = named(S.Merchant, 'Merchant')
export const MerchantPage = named(S.page(S.Merchant), 'MerchantPage')
export const MerchantApplied = z
  .object({ merchantId: z.string(), status: z.enum(S.MERCHANT_STATUSES) })
  .openapi('MerchantApplied')
export const StaffInvited = named(S.StaffInvited, 'StaffInvited')
export const Balance = named(S.Balance, 'Balance')
export const PointsRecordPage = named(S.page(S.PointsRecord), 'PointsRecordPage')
export const Gift = named(S.Gift, 'Gift')
export const GiftView = named(S.GiftView, 'GiftView')
export const GiftSettled = named(S.GiftSettled, 'GiftSettled')
export const GiftClaimed = named(S.GiftClaimed, 'GiftClaimed')
export const AccountDeleted = named(S.AccountDeleted, 'AccountDeleted')
export const UserStanding = named(S.UserStanding, 'UserStanding')
export const CreatedOrder = named(S.CreatedOrder, 'CreatedOrder')
export const Order = named(S.Order, 'Order')
export const OrderPage = named(S.page(S.Order), 'OrderPage')
export const MerchantOrderPage = named(S.page(S.MerchantOrder), 'MerchantOrderPage')
export const RefundAccepted = named(S.RefundAccepted, 'RefundAccepted')
export const Refund = named(S.Refund, 'Refund')
export const MerchantStats = named(S.MerchantStats, 'MerchantStats')
export const Grant = named(S.Grant, 'Grant')
export const Adjustment = named(S.Adjustment, 'Adjustment')
export const PlatformStats = named(S.PlatformStats, 'PlatformStats')
export const AuditEntryPage = named(S.page(S.AuditEntry), 'AuditEntryPage')
export const ReconciliationReport = named(S.ReconciliationReport, 'ReconciliationReport')
export const DailyStats = named(S.DailyStats, 'DailyStats')
export const ConsoleSessionCreated = named(S.ConsoleSessionCreated, 'ConsoleSessionCreated')
export const ConsoleSessionState = named(S.ConsoleSessionState, 'ConsoleSessionState')

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
  403: 'FORBIDDEN: the caller lacks the role; ACCOUNT_FROZEN: a frozen account may only read',
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
