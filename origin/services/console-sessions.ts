/**
 * Scan-to-login (扫码登录) for the web console (API.md §17). A session lives in Redis: the console
 * shows its mini-program code, the logged-in shopper approves it in the mini-program, and the
 * console's next poll takes the token. Each step is one Lua script, so two approvals or two polls
 * racing each other cannot both win.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { AppError } from '../../shared/errors.ts'
import { WechatApiError } from '../wechat/errors.ts'
import type { WechatMiniClient } from '../wechat/mini-client.ts'

export const CONSOLE_LOGIN_PAGE = 'pages/console-login/index'
export const CONSOLE_SESSION_TTL_MS = 120_000
/** USED and EXPIRED stay readable for a while, so a late poll learns what happened instead of 404. */
const KEEP_MS = 10 * 60_000

const keyOf = (id: string) => `console:session:${id}`

/** ≤ 32 characters, read back by the mini-program's login page as query.scene. */
export const consoleScene = (id: string) => `c=${id}`

export type ConsoleSessionStatus = 'PENDING' | 'APPROVED' | 'EXPIRED' | 'USED'

export async function createConsoleSession(deps: { redis: Redis; mini: WechatMiniClient }, now: Date) {
  const id = randomBytes(16).toString('base64url')
  const expiresAt = new Date(now.getTime() + CONSOLE_SESSION_TTL_MS)
  let image: { contentType: string; bytes: Buffer }
  try {
    image = await deps.mini.getUnlimitedQrCode({ scene: consoleScene(id), page: CONSOLE_LOGIN_PAGE })
  } catch (err) {
    if (err instanceof WechatApiError) {
      throw new AppError('PAYMENT_PROVIDER_ERROR', 'WeChat could not make the login code right now; retry', {
        provider: 'wechat',
        errcode: err.errcode,
      })
    }
    throw err
  }
  await deps.redis
    .multi()
    .hset(keyOf(id), { status: 'PENDING', expiresAt: String(expiresAt.getTime()) })
    .pexpire(keyOf(id), KEEP_MS)
    .exec()
  return {
    id,
    qrcode: `data:${image.contentType};base64,${image.bytes.toString('base64')}`,
    expiresAt: expiresAt.toISOString(),
  }
}

// KEYS[1] session; ARGV now ms, user id. Answers the status the session had before.
const APPROVE = `
local s = redis.call('HMGET', KEYS[1], 'status', 'expiresAt')
if not s[1] then return 'MISSING' end
if tonumber(ARGV[1]) >= tonumber(s[2]) and (s[1] == 'PENDING' or s[1] == 'APPROVED') then return 'EXPIRED' end
if s[1] == 'PENDING' then redis.call('HSET', KEYS[1], 'status', 'APPROVED', 'userId', ARGV[2]) end
return s[1]`

// KEYS[1] session; ARGV now ms, user id. 1 when this call moved APPROVED to USED.
const TAKE = `
local s = redis.call('HMGET', KEYS[1], 'status', 'expiresAt', 'userId')
if s[1] ~= 'APPROVED' or s[3] ~= ARGV[2] or tonumber(ARGV[1]) >= tonumber(s[2]) then return 0 end
redis.call('HSET', KEYS[1], 'status', 'USED')
return 1`

/** The logged-in mini-program user lends the console their identity; a session is approved once. */
export async function approveConsoleSession(redis: Redis, id: string, userId: number, now: Date) {
  const before = (await redis.eval(APPROVE, 1, keyOf(id), String(now.getTime()), String(userId))) as string
  if (before === 'MISSING') throw new AppError('NOT_FOUND', 'No such login session')
  if (before === 'EXPIRED') throw new AppError('INVALID_STATE', 'The login code has expired; refresh it')
  if (before !== 'PENDING') throw new AppError('INVALID_STATE', 'This login code has already been used')
}

export async function readConsoleSession(redis: Redis, id: string, now: Date) {
  const s = await redis.hgetall(keyOf(id))
  if (!s.status || !s.expiresAt) throw new AppError('NOT_FOUND', 'No such login session')
  const expiresAtMs = Number(s.expiresAt)
  const live = s.status === 'PENDING' || s.status === 'APPROVED'
  const status = (live && now.getTime() >= expiresAtMs ? 'EXPIRED' : s.status) as ConsoleSessionStatus
  return {
    status,
    userId: s.userId ? Number(s.userId) : null,
    expiresAt: new Date(expiresAtMs).toISOString(),
  }
}

/** Moves an approved session to USED; only the one caller that gets true may hand out its token. */
export async function takeApprovedSession(redis: Redis, id: string, userId: number, now: Date) {
  return (await redis.eval(TAKE, 1, keyOf(id), String(now.getTime()), String(userId))) === 1
}
