/** Error codes of API.md §1 with their HTTP status: the one table both edge and origin map from. */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  EDGE_SIGNATURE_INVALID: 401,
  FORBIDDEN: 403,
  ACCOUNT_FROZEN: 403,
  NOT_FOUND: 404,
  IDEMPOTENCY_KEY_REUSED: 409,
  INVALID_STATE: 409,
  GIFT_ALREADY_CLAIMED: 409,
  GIFT_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  INSUFFICIENT_POINTS: 422,
  MERCHANT_NOT_ACTIVE: 422,
  MERCHANT_NOT_PAYABLE: 422,
  REFUND_EXCEEDS_PAID: 422,
  CANNOT_CLAIM_OWN_GIFT: 422,
  GRANT_LIMIT_EXCEEDED: 422,
  REDEEM_NOT_ALLOWED: 422,
  GIFT_LIMIT_EXCEEDED: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  PAYMENT_PROVIDER_ERROR: 502,
  ORIGIN_UNAVAILABLE: 503,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown }
  requestId: string
}

/** A typed failure a service returns or throws; mapped to HTTP in exactly one place per runtime. */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly details?: unknown
  readonly headers?: Record<string, string>

  constructor(code: ErrorCode, message: string, details?: unknown, headers?: Record<string, string>) {
    super(message)
    this.name = 'AppError'
    this.code = code
    this.details = details
    this.headers = headers
  }

  get status(): number {
    return ERROR_STATUS[this.code]
  }
}

export function errorBody(code: ErrorCode, message: string, requestId: string, details?: unknown): ErrorBody {
  return details === undefined
    ? { error: { code, message }, requestId }
    : { error: { code, message, details }, requestId }
}
