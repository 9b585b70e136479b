/** An HTTP client that signs like the edge (API.md §6), for talking to the origin directly. */
import { edgeSignatureHeaders } from '../../shared/edge-signing.ts'
import { EDGE_KEY_ID, EDGE_SECRET } from './stack.ts'

export interface ApiResponse<T = any> {
  status: number
  headers: Headers
  body: T
  text: string
}

export interface CallOptions {
  token?: string
  body?: unknown
  rawBody?: string
  idempotencyKey?: string
  headers?: Record<string, string>
  /** false sends the request unsigned; a string signs with that secret instead of the real one. */
  sign?: boolean | { keyId?: string; secret?: string; timestampSeconds?: number }
}

/** `fetcher` lets the in-process harness hand requests straight to the app instead of a socket. */
export function apiClient(
  baseUrl: string,
  fetcher: (url: string, init: RequestInit) => Promise<Response> = fetch,
) {
  async function call<T = any>(
    method: string,
    path: string,
    opts: CallOptions = {},
  ): Promise<ApiResponse<T>> {
    const body = opts.rawBody ?? (opts.body === undefined ? '' : JSON.stringify(opts.body))
    const authorization = opts.token ? `Bearer ${opts.token}` : ''
    const headers: Record<string, string> = {}
    if (body) headers['content-type'] = 'application/json'
    if (authorization) headers.authorization = authorization
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey
    if (opts.sign !== false) {
      const s = typeof opts.sign === 'object' ? opts.sign : {}
      Object.assign(
        headers,
        await edgeSignatureHeaders(
          s.keyId ?? EDGE_KEY_ID,
          s.secret ?? EDGE_SECRET,
          { method, pathWithQuery: path, body, authorization },
          s.timestampSeconds,
        ),
      )
    }
    Object.assign(headers, opts.headers)
    const res = await fetcher(baseUrl + path, { method, headers, body: body || undefined })
    const text = await res.text()
    let parsed: unknown = text
    try {
      parsed = text ? JSON.parse(text) : null
    } catch {
      // non-JSON answers (metrics, images) stay text
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text }
  }
  return {
    call,
    get: <T = any>(path: string, opts?: CallOptions) => call<T>('GET', path, opts),
    post: <T = any>(path: string, body?: unknown, opts?: CallOptions) =>
      call<T>('POST', path, { ...opts, body }),
    put: <T = any>(path: string, body?: unknown, opts?: CallOptions) =>
      call<T>('PUT', path, { ...opts, body }),
    patch: <T = any>(path: string, body?: unknown, opts?: CallOptions) =>
      call<T>('PATCH', path, { ...opts, body }),
    delete: <T = any>(path: string, opts?: CallOptions) => call<T>('DELETE', path, opts),
    async login(openid: string) {
      const res = await call('POST', '/api/auth/login', { body: { code: `code-${openid}` } })
      if (res.status !== 200) throw new Error(`login ${openid} failed: ${res.status} ${res.text}`)
      return res.body as { token: string; user: { id: string; roles: string[]; merchantId: string | null } }
    },
  }
}

export type ApiClient = ReturnType<typeof apiClient>
