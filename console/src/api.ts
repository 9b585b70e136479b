/**
 * Every call to the API goes through here: the bearer token, errors in API.md's shape, 401 → the
 * login page, and network loss → the retry banner. A request that failed on the network waits for
 * the banner's retry and is then sent again as it was, Idempotency-Key included, so a retried write
 * is never a second write.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly retryAfterS?: number,
  ) {
    super(message)
  }
}

const TOKEN_KEY = 'console.token'

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
}

type Listener = () => void
const listeners = new Set<Listener>()
let waiting: Array<() => void> = []

export const network = {
  get offline() {
    return waiting.length > 0
  },
  subscribe(listener: Listener) {
    listeners.add(listener)
    return () => listeners.delete(listener)
  },
  retry() {
    const resume = waiting
    waiting = []
    for (const l of listeners) l()
    for (const r of resume) r()
  },
}

function waitForRetry(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve)
    for (const l of listeners) l()
  })
}

if (typeof window !== 'undefined') window.addEventListener('online', () => network.retry())

export interface CallOptions {
  body?: unknown
  idempotencyKey?: string
  /** The Response itself (images), not its JSON. */
  raw?: boolean
}

/** 8..64 of [A-Za-z0-9_-], as API.md §1 asks. */
export const newIdempotencyKey = () => `console-${crypto.randomUUID().replaceAll('-', '')}`

async function errorOf(res: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; details?: { field?: unknown } } } = {}
  try {
    body = await res.json()
  } catch {
    // a proxy's HTML error page: the status alone says enough
  }
  const e = body.error ?? {}
  const field = typeof e.details?.field === 'string' ? e.details.field : undefined
  const retryAfter = Number(res.headers.get('retry-after'))
  return new ApiError(
    res.status,
    e.code ?? `HTTP_${res.status}`,
    e.message ?? res.statusText,
    field,
    Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : undefined,
  )
}

export async function api<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = {}
  const bearer = token.get()
  if (bearer) headers.authorization = `Bearer ${bearer}`
  if (opts.body !== undefined) headers['content-type'] = 'application/json'
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body)
  for (;;) {
    let res: Response
    try {
      res = await fetch(path, { method, headers, body })
    } catch {
      await waitForRetry()
      continue
    }
    if (res.status === 503 && (await res.clone().text()).includes('ORIGIN_UNAVAILABLE')) {
      await waitForRetry()
      continue
    }
    if (res.status === 401 && bearer) {
      token.clear()
      location.hash = '#/login'
    }
    if (!res.ok) throw await errorOf(res)
    if (opts.raw) return res as T
    return (res.status === 204 ? null : await res.json()) as T
  }
}

const MESSAGES: Record<string, string> = {
  VALIDATION_FAILED: '输入有误',
  UNAUTHENTICATED: '登录已失效，请重新扫码登录',
  FORBIDDEN: '没有权限',
  NOT_FOUND: '找不到该记录',
  INVALID_STATE: '当前状态不允许此操作',
  IDEMPOTENCY_KEY_REUSED: '请求重复但内容不同',
  INSUFFICIENT_POINTS: '积分不足',
  MERCHANT_NOT_ACTIVE: '商户未处于营业状态',
  REFUND_EXCEEDS_PAID: '退款金额超过可退金额',
  GRANT_LIMIT_EXCEEDED: '超出今日赠送上限',
  PAYMENT_PROVIDER_ERROR: '微信服务暂不可用，请稍后重试',
  ORIGIN_UNAVAILABLE: '服务暂不可用，请稍后重试',
}

/** What to show a person for an error: Chinese first, the server's words after. */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) return `出错了：${String(err)}`
  if (err.code === 'RATE_LIMITED')
    return `请求过于频繁，请 ${err.retryAfterS ?? 1} 秒后再试 (try again in ${err.retryAfterS ?? 1} s)`
  return `${MESSAGES[err.code] ?? '操作失败'}：${err.message}`
}
