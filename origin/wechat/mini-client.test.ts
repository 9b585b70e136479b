import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type StartedSandbox, startSandbox } from '../../sandbox/server.ts'
import { control } from '../../sandbox/testing.ts'
import type { LoggedRequest } from '../../sandbox/traffic.ts'
import { WechatApiError } from './errors.ts'
import { createWechatMiniClient, type WechatMiniClient } from './mini-client.ts'

let sandbox: StartedSandbox
let redis: Redis
let keyPrefix: string
let client: WechatMiniClient

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

function miniClient(overrides: { secret?: string; timeoutMs?: number; prefix?: string } = {}) {
  return createWechatMiniClient(
    {
      apiBaseUrl: sandbox.url,
      appid: sandbox.config.appid,
      secret: overrides.secret ?? sandbox.config.appSecret,
    },
    { redis, keyPrefix: overrides.prefix ?? keyPrefix, timeoutMs: overrides.timeoutMs },
  )
}

async function caught(promise: Promise<unknown>): Promise<WechatApiError> {
  try {
    await promise
  } catch (err) {
    if (err instanceof WechatApiError) return err
    throw err
  }
  throw new Error('expected a WechatApiError')
}

async function stableTokenCalls(): Promise<number> {
  const { json } = await control<{ items: LoggedRequest[] }>(
    sandbox,
    'GET',
    '/requests?pathPrefix=/cgi-bin/stable_token',
  )
  return json.items.length
}

async function clearPrefix(prefix: string) {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length) await redis.del(...keys)
}

beforeAll(async () => {
  sandbox = await startSandbox()
  redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: false, maxRetriesPerRequest: 1 })
  keyPrefix = `test:wechat-mini:${randomUUID()}:`
  client = miniClient()
})

afterEach(() => control(sandbox, 'DELETE', '/faults'))

afterAll(async () => {
  await clearPrefix(keyPrefix)
  redis.disconnect()
  await sandbox.close()
})

describe('code2Session', () => {
  it('logs in a code-<openid> code as that openid, without the session_key', async () => {
    expect(await client.code2Session('code-oUser_42')).toEqual({ openid: 'oUser_42' })
  })

  it('maps errcode 40029 to INVALID_CODE', async () => {
    expect(await caught(client.code2Session('not-a-sandbox-code'))).toMatchObject({
      errcode: 40029,
      kind: 'INVALID_CODE',
    })
  })

  it('surfaces a wrong secret as its errcode', async () => {
    expect(await caught(miniClient({ secret: 'wrong' }).code2Session('code-x'))).toMatchObject({
      errcode: 40125,
    })
  })

  it('times out a slow answer', async () => {
    await control(sandbox, 'POST', '/faults', { pathPrefix: '/sns/jscode2session', delayMs: 500 })
    expect(await caught(miniClient({ timeoutMs: 100 }).code2Session('code-slow'))).toMatchObject({
      kind: 'UNAVAILABLE',
    })
  })
})

describe('access_token', () => {
  it('makes one stable_token call for many concurrent callers on several instances', async () => {
    const prefix = `${keyPrefix}concurrent:`
    const before = await stableTokenCalls()
    const instances = [miniClient({ prefix }), miniClient({ prefix }), miniClient({ prefix })]
    const tokens = await Promise.all(Array.from({ length: 30 }, (_, i) => instances[i % 3]!.getAccessToken()))
    expect(new Set(tokens).size).toBe(1)
    expect((await stableTokenCalls()) - before).toBe(1)
    expect(await instances[0]!.getAccessToken()).toBe(tokens[0])
    expect((await stableTokenCalls()) - before).toBe(1)
  })

  it('refreshes a cached token with less than 5 minutes left', async () => {
    const prefix = `${keyPrefix}refresh:`
    const entry = { accessToken: 'about-to-expire', expiresAtMs: Date.now() + 60_000 }
    await redis.set(`${prefix}${sandbox.config.appid}`, JSON.stringify(entry), 'PX', 60_000)
    const before = await stableTokenCalls()
    const token = await miniClient({ prefix }).getAccessToken()
    expect(token).not.toBe('about-to-expire')
    expect((await stableTokenCalls()) - before).toBe(1)
  })
})

describe('getUnlimitedQrCode', () => {
  it('returns the PNG image', async () => {
    const image = await client.getUnlimitedQrCode({
      scene: 'm=Ab3xK9q2',
      page: 'pages/pay/index',
      checkPath: false,
    })
    expect(image.contentType).toBe('image/png')
    expect(image.bytes.subarray(0, 8).equals(PNG_MAGIC)).toBe(true)
  })

  it('refetches the token once and retries when WeChat says it is invalid (40001)', async () => {
    await client.getAccessToken()
    await control(sandbox, 'POST', '/access-tokens/revoke')
    const before = await stableTokenCalls()
    const image = await client.getUnlimitedQrCode({ scene: 'm=again', page: 'pages/pay/index' })
    expect(image.bytes.subarray(0, 8).equals(PNG_MAGIC)).toBe(true)
    expect((await stableTokenCalls()) - before).toBe(1)
  })

  it('turns a JSON errcode answer into a typed error', async () => {
    expect(
      await caught(client.getUnlimitedQrCode({ scene: 'x'.repeat(33), page: 'pages/pay/index' })),
    ).toMatchObject({
      errcode: 40169,
    })
    expect(await caught(client.getUnlimitedQrCode({ scene: 'ok', page: '/pages/pay/index' }))).toMatchObject({
      errcode: 41030,
    })
  })
})
