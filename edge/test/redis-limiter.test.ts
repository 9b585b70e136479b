/**
 * The rate limiter's one script call against real Redis behind the Upstash-REST bridge, through
 * the edge's own REST client: the counters and the page version it reads along in the same round
 * trip, a missing version, the NOSCRIPT fallback, and Upstash's errors surfacing as errors.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REDIS_URL } from '../../test/harness/stack.ts'
import { RedisRateLimiter } from '../rate-limit/redis-limiter.ts'
import { UpstashRest } from '../redis-rest.ts'
import { type OwnRedis, ownRedis } from './support/harness.ts'

const DB = 10
let own: OwnRedis
let redis: Redis
let client: UpstashRest

beforeAll(async () => {
  own = await ownRedis(DB)
  redis = new Redis(`${REDIS_URL}/${DB}`)
  client = new UpstashRest(own.env.UPSTASH_REDIS_REST_URL, own.env.UPSTASH_REDIS_REST_TOKEN, 2_000)
})
afterAll(async () => {
  await redis?.quit()
  await own?.close()
})

const fresh = () => `t:${crypto.randomUUID()}`

describe('RedisRateLimiter through UpstashRest', () => {
  it('counts every rule and reads the page version in the same call', async () => {
    const [ip, write, version] = [fresh(), fresh(), fresh()]
    await redis.set(version, '7')
    const limiter = new RedisRateLimiter(client)
    const rules = [
      { key: ip, limit: 3, windowS: 60 },
      { key: write, limit: 1, windowS: 60 },
    ]
    const first = await limiter.check(rules, version)
    expect(first.allowed).toBe(true)
    expect(first.read).toBe('7')
    expect(first.counters.map((c) => c.count)).toEqual([1, 1])
    const second = await limiter.check(rules, version)
    expect(second.allowed).toBe(false)
    expect(second.read).toBe('7')
    expect(await redis.get(ip)).toBe('1')
  })

  it('reads a missing version as null and leaves read out when none was asked for', async () => {
    const limiter = new RedisRateLimiter(client)
    const rules = [{ key: fresh(), limit: 5, windowS: 60 }]
    expect((await limiter.check(rules, fresh())).read).toBeNull()
    expect('read' in (await limiter.check(rules))).toBe(false)
  })

  it('loads the script with EVAL when Redis has forgotten it', async () => {
    await redis.script('FLUSH')
    const decision = await new RedisRateLimiter(client).check([{ key: fresh(), limit: 1, windowS: 60 }])
    expect(decision.allowed).toBe(true)
  })

  it('throws on an Upstash error reply and on a wrong token', async () => {
    await expect(client.command(['NOSUCHCOMMAND'])).rejects.toThrow(/Upstash: .*unknown command/i)
    const wrong = new UpstashRest(own.env.UPSTASH_REDIS_REST_URL, 'wrong-token', 2_000)
    await expect(wrong.command(['PING'])).rejects.toThrow(/Upstash/)
  })
})
