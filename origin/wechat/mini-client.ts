/**
 * The mini-program server APIs the origin uses (WECHAT.md §1, §3): login, the shared access_token
 * and the merchant's unlimited mini-program code. Plain fetch with a time-out on every call.
 */
import type { Redis } from 'ioredis'
import { createAccessTokenCache } from './access-token-cache.ts'
import { WechatApiError } from './errors.ts'

export interface WechatMiniConfig {
  apiBaseUrl: string
  appid: string
  secret: string
}

export interface WechatMiniDeps {
  redis: Redis
  fetch?: typeof fetch
  /** Redis namespace for the access_token and its refresh lock. */
  keyPrefix?: string
  timeoutMs?: number
}

export interface MiniSession {
  openid: string
  unionid?: string
}

export interface QrCodeInput {
  /** ≤32 visible characters; read back in the page as decodeURIComponent(query.scene). */
  scene: string
  /** No leading slash, no query string. */
  page: string
  checkPath?: boolean
  envVersion?: 'release' | 'trial' | 'develop'
  widthPx?: number
}

export interface QrCodeImage {
  contentType: string
  bytes: Buffer
}

export interface WechatMiniClient {
  code2Session(code: string): Promise<MiniSession>
  getAccessToken(): Promise<string>
  getUnlimitedQrCode(input: QrCodeInput): Promise<QrCodeImage>
  /**
   * POSTs JSON to an access_token API (upload_shipping_info, subscribe/send) and resolves on
   * errcode 0; otherwise throws WechatApiError (kind UNAVAILABLE for no answer, a 5xx or no JSON).
   */
  postWithToken(path: string, body: unknown): Promise<void>
}

const DEFAULT_TIMEOUT_MS = 5_000
const DEFAULT_KEY_PREFIX = 'wechat:access-token:'

interface WechatJson {
  errcode?: number
  errmsg?: string
  [field: string]: unknown
}

function apiError(json: WechatJson): WechatApiError {
  return new WechatApiError(json.errcode ?? -1, `WeChat API error ${json.errcode}: ${json.errmsg ?? ''}`)
}

export function createWechatMiniClient(cfg: WechatMiniConfig, deps: WechatMiniDeps): WechatMiniClient {
  const doFetch = deps.fetch ?? fetch
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const base = cfg.apiBaseUrl.replace(/\/+$/, '')

  async function call(pathWithQuery: string, jsonBody?: unknown): Promise<Response> {
    try {
      return await doFetch(base + pathWithQuery, {
        method: jsonBody === undefined ? 'GET' : 'POST',
        headers: jsonBody === undefined ? {} : { 'Content-Type': 'application/json' },
        body: jsonBody === undefined ? undefined : JSON.stringify(jsonBody),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (err) {
      throw new WechatApiError(-1, `WeChat API unreachable: ${(err as Error).message}`, 'UNAVAILABLE')
    }
  }

  async function readJson(res: Response): Promise<WechatJson> {
    try {
      const json: unknown = JSON.parse(await res.text())
      if (typeof json === 'object' && json !== null) return json as WechatJson
    } catch (err) {
      if (err instanceof DOMException) throw new WechatApiError(-1, 'WeChat API timed out', 'UNAVAILABLE')
    }
    throw new WechatApiError(-1, `WeChat API answered HTTP ${res.status} without JSON`, 'BAD_RESPONSE')
  }

  const tokens = createAccessTokenCache({
    redis: deps.redis,
    keyPrefix: deps.keyPrefix ?? DEFAULT_KEY_PREFIX,
    appid: cfg.appid,
    async fetchToken() {
      // Normal mode only: force_refresh invalidates the token for everyone and is quota-limited.
      const json = await readJson(
        await call('/cgi-bin/stable_token', {
          grant_type: 'client_credential',
          appid: cfg.appid,
          secret: cfg.secret,
          force_refresh: false,
        }),
      )
      if (typeof json.access_token !== 'string' || typeof json.expires_in !== 'number') throw apiError(json)
      return { accessToken: json.access_token, expiresInSeconds: json.expires_in }
    },
  })

  async function qrCodeOnce(token: string, input: QrCodeInput): Promise<QrCodeImage | WechatApiError> {
    const res = await call(`/wxa/getwxacodeunlimit?access_token=${encodeURIComponent(token)}`, {
      scene: input.scene,
      page: input.page,
      ...(input.checkPath === undefined ? {} : { check_path: input.checkPath }),
      ...(input.envVersion === undefined ? {} : { env_version: input.envVersion }),
      ...(input.widthPx === undefined ? {} : { width: input.widthPx }),
    })
    const contentType = res.headers.get('content-type') ?? ''
    let bytes: Buffer
    try {
      bytes = Buffer.from(await res.arrayBuffer())
    } catch {
      return new WechatApiError(-1, 'WeChat API timed out', 'UNAVAILABLE')
    }
    // Errors come back as JSON with HTTP 200, so the content decides, not the status.
    if (contentType.includes('json') || bytes[0] === 0x7b) {
      let json: WechatJson
      try {
        json = JSON.parse(bytes.toString('utf8')) as WechatJson
      } catch {
        return new WechatApiError(-1, 'WeChat API answered unreadable JSON', 'BAD_RESPONSE')
      }
      return apiError(json)
    }
    if (!res.ok || bytes.length === 0) {
      return new WechatApiError(-1, `WeChat API answered HTTP ${res.status}`, 'BAD_RESPONSE')
    }
    return { contentType: contentType || 'image/jpeg', bytes }
  }

  async function postOnce(token: string, path: string, body: unknown): Promise<WechatApiError | null> {
    const res = await call(`${path}?access_token=${encodeURIComponent(token)}`, body)
    if (res.status >= 500) {
      await res.arrayBuffer().catch(() => undefined)
      return new WechatApiError(-1, `WeChat API answered HTTP ${res.status}`, 'UNAVAILABLE')
    }
    let json: WechatJson
    try {
      json = await readJson(res)
    } catch (err) {
      if (err instanceof WechatApiError) return new WechatApiError(-1, err.message, 'UNAVAILABLE')
      throw err
    }
    return json.errcode === undefined || json.errcode === 0 ? null : apiError(json)
  }

  return {
    async postWithToken(path, body) {
      const token = await tokens.get()
      const first = await postOnce(token, path, body)
      if (first === null) return
      if (first.kind !== 'INVALID_TOKEN') throw first
      await tokens.invalidate(token)
      const second = await postOnce(await tokens.get(), path, body)
      if (second !== null) throw second
    },

    async code2Session(code) {
      const query = new URLSearchParams({
        appid: cfg.appid,
        secret: cfg.secret,
        js_code: code,
        grant_type: 'authorization_code',
      })
      const json = await readJson(await call(`/sns/jscode2session?${query}`))
      // session_key is dropped on purpose: the project issues its own session and never needs it.
      if (typeof json.openid !== 'string' || !json.openid) throw apiError(json)
      return typeof json.unionid === 'string'
        ? { openid: json.openid, unionid: json.unionid }
        : { openid: json.openid }
    },

    getAccessToken: () => tokens.get(),

    async getUnlimitedQrCode(input) {
      const token = await tokens.get()
      const first = await qrCodeOnce(token, input)
      if (!(first instanceof WechatApiError)) return first
      if (first.kind !== 'INVALID_TOKEN') throw first
      // One refetch and one retry (WECHAT.md §1.3); never force_refresh automatically.
      await tokens.invalidate(token)
      const second = await qrCodeOnce(await tokens.get(), input)
      if (second instanceof WechatApiError) throw second
      return second
    },
  }
}
