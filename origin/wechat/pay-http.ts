/**
 * The signed transport under every WeChat Pay v3 call: signs the request, bounds it with a
 * time-out, verifies the answer's signature before reading it, and retries only what WECHAT.md
 * §2.8 calls safe to repeat with the same body (5xx, time-outs, network failures).
 */
import { WechatPayError } from './errors.ts'
import { buildAuthorization, verifyWechatpaySignature } from './pay-crypto.ts'

export interface PayHttpConfig {
  baseUrl: string
  mchid: string
  serialNo: string
  privateKeyPem: string
  payPublicKeyPem: string
  payPublicKeyId: string
}

export interface PayHttpOptions {
  fetch?: typeof fetch
  timeoutMs?: number
  /** Extra attempts after the first, for transient failures only. */
  maxRetries?: number
  retryBackoffMs?: number
}

export interface PayResponse {
  status: number
  body: string
  /** The raw answer, for files whose hash is checked over the exact bytes. */
  bytes: Buffer
}

export interface SendOptions {
  /**
   * Bill downloads (/v3/billdownload/file) answer the file unsigned; their integrity is the SHA-1
   * from the signed tradebill answer. Error answers are still verified.
   */
  unsignedSuccess?: boolean
}

export type PaySend = (
  method: 'GET' | 'POST',
  pathWithQuery: string,
  payload?: unknown,
  options?: SendOptions,
) => Promise<PayResponse>

const DEFAULT_TIMEOUT_MS = 5_000
const DEFAULT_MAX_RETRIES = 2
const DEFAULT_RETRY_BACKOFF_MS = 100
const MAX_RETRIES_CAP = 5
const USER_AGENT = 'points-gifting-origin/0.1 (node)'
// Statuses WeChat documents as "try again later with the same parameters" even though they are not 5xx.
const RETRY_LATER_CODES = new Set(['FREQUENCY_LIMITED', 'RATELIMIT_EXCEEDED', 'NOT_ENOUGH'])

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function errorFromAnswer(status: number, body: string): WechatPayError {
  let code = `HTTP_${status}`
  let message = body.slice(0, 200)
  let detail: unknown
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown; detail?: unknown }
    if (typeof parsed.code === 'string') code = parsed.code
    if (typeof parsed.message === 'string') message = parsed.message
    detail = parsed.detail
  } catch {
    // Not JSON (a proxy page): the status alone classifies it.
  }
  const retryable = status >= 500 || status === 429 || RETRY_LATER_CODES.has(code.toUpperCase())
  return new WechatPayError({ httpStatus: status, code, message, retryable, detail })
}

function errorFromThrow(err: unknown): WechatPayError {
  const timedOut = err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')
  return new WechatPayError({
    httpStatus: 0,
    code: timedOut ? 'TIMEOUT' : 'NETWORK_ERROR',
    message: err instanceof Error ? err.message : String(err),
    retryable: true,
  })
}

// 429 and NOT_ENOUGH are retryable but need minutes, not milliseconds: those go back to the caller.
function retriesInline(err: WechatPayError): boolean {
  return err.retryable && (err.httpStatus === 0 || err.httpStatus >= 500)
}

export function createPayHttp(cfg: PayHttpConfig, opts: PayHttpOptions = {}): PaySend {
  const doFetch = opts.fetch ?? fetch
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const maxRetries = Math.min(opts.maxRetries ?? DEFAULT_MAX_RETRIES, MAX_RETRIES_CAP)
  const backoffMs = opts.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS
  const base = cfg.baseUrl.replace(/\/+$/, '')
  const verifyKey = { publicKeyPem: cfg.payPublicKeyPem, publicKeyId: cfg.payPublicKeyId }

  async function attempt(method: string, url: URL, body: string, options: SendOptions): Promise<PayResponse> {
    const authorization = buildAuthorization({
      method,
      // Sign what fetch will put on the wire, after URL normalisation.
      canonicalUrl: url.pathname + url.search,
      body,
      mchid: cfg.mchid,
      serialNo: cfg.serialNo,
      privateKeyPem: cfg.privateKeyPem,
    })
    const headers: Record<string, string> = {
      Authorization: authorization,
      Accept: 'application/json',
      'User-Agent': USER_AGENT,
      'Wechatpay-Serial': cfg.payPublicKeyId,
    }
    if (body) headers['Content-Type'] = 'application/json'
    let status: number
    let text: string
    let bytes: Buffer
    let answerHeaders: Headers
    try {
      const res = await doFetch(url, {
        method,
        headers,
        body: body || undefined,
        signal: AbortSignal.timeout(timeoutMs),
      })
      status = res.status
      answerHeaders = res.headers
      bytes = Buffer.from(await res.arrayBuffer())
      text = bytes.toString('utf8')
    } catch (err) {
      throw errorFromThrow(err)
    }
    if (options.unsignedSuccess && status >= 200 && status < 300) return { status, body: text, bytes }
    const check = verifyWechatpaySignature(
      {
        timestamp: answerHeaders.get('wechatpay-timestamp') ?? '',
        nonce: answerHeaders.get('wechatpay-nonce') ?? '',
        signatureB64: answerHeaders.get('wechatpay-signature') ?? '',
        serial: answerHeaders.get('wechatpay-serial') ?? '',
        body: text,
      },
      verifyKey,
      Math.floor(Date.now() / 1000),
    )
    if (!check.ok) {
      throw new WechatPayError({
        httpStatus: status,
        code: 'RESPONSE_SIGNATURE_INVALID',
        message: `WeChat Pay answer failed verification: ${check.reason}`,
        retryable: status >= 500,
      })
    }
    if (status >= 200 && status < 300) return { status, body: text, bytes }
    throw errorFromAnswer(status, text)
  }

  return async function send(method, pathWithQuery, payload, options = {}) {
    const url = new URL(base + pathWithQuery)
    // Serialised once: every retry carries the identical bytes, which is what makes it idempotent.
    const body = payload === undefined ? '' : JSON.stringify(payload)
    for (let attemptNo = 0; ; attemptNo++) {
      try {
        return await attempt(method, url, body, options)
      } catch (err) {
        if (!(err instanceof WechatPayError) || !retriesInline(err) || attemptNo >= maxRetries) throw err
        await sleep(backoffMs * 2 ** attemptNo * (1 + Math.random() / 2))
      }
    }
  }
}
