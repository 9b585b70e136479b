/** Typed failures of the WeChat clients, so callers branch on fields instead of parsing messages. */

/**
 * A failed WeChat Pay call. `retryable` means "safe to send again with the same parameters"
 * (WECHAT.md §2.8); httpStatus 0 means no answer arrived (timeout, network). An answer whose
 * signature does not verify keeps its status but has code RESPONSE_SIGNATURE_INVALID: its body is
 * never believed.
 */
export class WechatPayError extends Error {
  readonly httpStatus: number
  readonly code: string
  readonly retryable: boolean
  readonly detail?: unknown

  constructor(init: {
    httpStatus: number
    code: string
    message: string
    retryable: boolean
    detail?: unknown
  }) {
    super(init.message)
    this.name = 'WechatPayError'
    this.httpStatus = init.httpStatus
    this.code = init.code
    this.retryable = init.retryable
    this.detail = init.detail
  }
}

export type NotificationRejection =
  | 'MISSING_HEADERS'
  | 'UNKNOWN_SERIAL'
  | 'STALE_TIMESTAMP'
  | 'SIGNTEST'
  | 'MALFORMED_SIGNATURE'
  | 'BAD_SIGNATURE'
  | 'MALFORMED_BODY'
  | 'DECRYPT_FAILED'

/** A notification that must not be believed; the callback answers 4xx/5xx so WeChat retries. */
export class WechatNotificationError extends Error {
  readonly reason: NotificationRejection

  constructor(reason: NotificationRejection, message: string) {
    super(message)
    this.name = 'WechatNotificationError'
    this.reason = reason
  }
}

export type WechatApiFailure =
  | 'INVALID_CODE'
  | 'INVALID_TOKEN'
  | 'RATE_LIMITED'
  | 'BUSY'
  | 'UNAVAILABLE'
  | 'BAD_RESPONSE'
  | 'OTHER'

/**
 * A failed mini-program server API call (api.weixin.qq.com). errcode is WeChat's, or -1 when no
 * usable answer arrived (kind UNAVAILABLE for time-outs and network errors, BAD_RESPONSE otherwise).
 */
export class WechatApiError extends Error {
  readonly errcode: number
  readonly kind: WechatApiFailure

  constructor(errcode: number, message: string, kind: WechatApiFailure = kindOfErrcode(errcode)) {
    super(message)
    this.name = 'WechatApiError'
    this.errcode = errcode
    this.kind = kind
  }
}

function kindOfErrcode(errcode: number): WechatApiFailure {
  // 40163 "code been used" is the same situation for the user as an invalid code: wx.login again.
  if (errcode === 40029 || errcode === 40163) return 'INVALID_CODE'
  if (errcode === 40001 || errcode === 42001 || errcode === 40014) return 'INVALID_TOKEN'
  if (errcode === 45011 || errcode === 45009) return 'RATE_LIMITED'
  if (errcode === -1) return 'BUSY'
  return 'OTHER'
}
