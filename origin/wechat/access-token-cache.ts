/**
 * The mini-program access_token shared by every origin instance through Redis (WECHAT.md §1.3):
 * refreshed when under 5 minutes remain, by one caller at a time (SET NX PX lock), while the
 * others keep using the still-valid token or wait for the new one.
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { WechatApiError } from './errors.ts'

export interface FetchedToken {
  accessToken: string
  expiresInSeconds: number
}

export interface AccessTokenCacheOptions {
  redis: Redis
  /** Namespace, e.g. `pg:wechat:token:`; the appid is appended so several apps can share a Redis. */
  keyPrefix: string
  appid: string
  fetchToken: () => Promise<FetchedToken>
  refreshMarginSeconds?: number
  lockTtlMs?: number
  pollIntervalMs?: number
}

export interface AccessTokenCache {
  get(): Promise<string>
  /** Drop the cached token if it is still the one WeChat rejected (40001/42001). */
  invalidate(rejectedToken: string): Promise<void>
}

interface CachedToken {
  accessToken: string
  expiresAtMs: number
}

const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`
const DROP_IF_SAME_TOKEN = `local v = redis.call('get', KEYS[1])
if v and cjson.decode(v).accessToken == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function createAccessTokenCache(opts: AccessTokenCacheOptions): AccessTokenCache {
  const { redis } = opts
  const tokenKey = `${opts.keyPrefix}${opts.appid}`
  const lockKey = `${tokenKey}:refresh-lock`
  const marginMs = (opts.refreshMarginSeconds ?? 300) * 1000
  const lockTtlMs = opts.lockTtlMs ?? 10_000
  const pollIntervalMs = opts.pollIntervalMs ?? 50
  // Callers in this process share one refresh instead of each polling Redis.
  let inflight: Promise<string> | null = null

  async function read(): Promise<CachedToken | null> {
    const raw = await redis.get(tokenKey)
    return raw ? (JSON.parse(raw) as CachedToken) : null
  }

  const isFresh = (t: CachedToken | null): t is CachedToken => !!t && t.expiresAtMs - Date.now() > marginMs

  async function fetchUnderLock(): Promise<string | null> {
    const lockValue = randomUUID()
    if ((await redis.set(lockKey, lockValue, 'PX', lockTtlMs, 'NX')) !== 'OK') return null
    try {
      // Another instance may have finished a refresh between our read and our lock.
      const current = await read()
      if (isFresh(current)) return current.accessToken
      const fetched = await opts.fetchToken()
      const ttlMs = fetched.expiresInSeconds * 1000
      const entry: CachedToken = { accessToken: fetched.accessToken, expiresAtMs: Date.now() + ttlMs }
      await redis.set(tokenKey, JSON.stringify(entry), 'PX', ttlMs)
      return fetched.accessToken
    } finally {
      await redis.eval(RELEASE_LOCK, 1, lockKey, lockValue)
    }
  }

  async function refresh(): Promise<string> {
    const deadlineMs = Date.now() + 2 * lockTtlMs
    for (;;) {
      const token = await fetchUnderLock()
      if (token) return token
      // Someone else holds the lock: a fresh token, or the old one in its last minutes, serves meanwhile.
      const current = await read()
      if (current && current.expiresAtMs > Date.now()) return current.accessToken
      if (Date.now() > deadlineMs)
        throw new WechatApiError(-1, 'timed out waiting for the access_token refresh', 'BUSY')
      await sleep(pollIntervalMs)
    }
  }

  return {
    async get() {
      const cached = await read()
      if (isFresh(cached)) return cached.accessToken
      inflight ??= refresh().finally(() => {
        inflight = null
      })
      return inflight
    },

    async invalidate(rejectedToken) {
      await redis.eval(DROP_IF_SAME_TOKEN, 1, tokenKey, rejectedToken)
    },
  }
}
