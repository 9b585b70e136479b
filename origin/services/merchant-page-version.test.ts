/** The per-merchant page version the edge keys its cache on, against the real Redis. */
import { randomInt } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger } from '../http/logger.ts'
import { bumpMerchantPageVersion, merchantVersionKey } from './merchant-page-version.ts'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const redis = new Redis(REDIS_URL)
const merchantId = 9_000_000_000 + randomInt(1_000_000_000)

afterAll(async () => {
  await redis.del(merchantVersionKey(merchantId))
  redis.disconnect()
})

describe('bumpMerchantPageVersion', () => {
  it('increments edge:merchant-version:<id>, the key the edge reads', async () => {
    const lines: string[] = []
    const log = createLogger('debug', (l) => lines.push(l))
    expect(merchantVersionKey(merchantId)).toBe(`edge:merchant-version:${merchantId}`)
    expect(await redis.get(`edge:merchant-version:${merchantId}`)).toBeNull()
    await bumpMerchantPageVersion({ redis, log }, merchantId)
    expect(await redis.get(`edge:merchant-version:${merchantId}`)).toBe('1')
    await Promise.all(Array.from({ length: 5 }, () => bumpMerchantPageVersion({ redis, log }, merchantId)))
    expect(await redis.get(`edge:merchant-version:${merchantId}`)).toBe('6')
    expect(lines).toEqual([])
  })

  it('logs a Redis failure instead of failing the request whose change already committed', async () => {
    const lines: string[] = []
    const log = createLogger('debug', (l) => lines.push(l))
    // Nothing listens on port 1: the command fails at once, as it does with Redis down.
    const down = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    down.on('error', () => {})
    await expect(bumpMerchantPageVersion({ redis: down, log }, merchantId)).resolves.toBeUndefined()
    down.disconnect()
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', merchantId })
  })
})
