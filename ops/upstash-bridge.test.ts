import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Bridge, startBridge, stripUpstashScriptFlags } from './upstash-bridge.ts'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const TOKEN = 'bridge-test-token'
// The machine's Redis is shared with other suites: every key lives under this run's prefix.
const prefix = `bridge-test:${crypto.randomUUID()}:`

let bridge: Bridge
let redis: Redis

beforeAll(async () => {
  bridge = await startBridge({ port: 0, token: TOKEN, redisUrl: REDIS_URL })
  redis = new Redis({ url: bridge.url, token: TOKEN, retry: false, enableTelemetry: false })
})

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length) await redis.del(...keys)
  await bridge.close()
})

describe('upstash bridge through @upstash/redis', () => {
  it('round-trips strings, JSON values, numbers and null', async () => {
    await redis.set(`${prefix}s`, 'plain')
    await redis.set(`${prefix}j`, { a: 1, b: ['x'] })
    expect(await redis.get(`${prefix}s`)).toBe('plain')
    expect(await redis.get(`${prefix}j`)).toEqual({ a: 1, b: ['x'] })
    expect(await redis.incrby(`${prefix}n`, 5)).toBe(5)
    expect(await redis.get(`${prefix}missing`)).toBeNull()
  })

  it('keeps UTF-8 intact, also across body chunks', async () => {
    const big = '€漢🙂'.repeat(50_000)
    await redis.set(`${prefix}utf8`, big)
    expect(await redis.get(`${prefix}utf8`)).toBe(big)
  })

  it('returns hashes as RESP2 arrays the SDK turns into objects', async () => {
    await redis.hset(`${prefix}h`, { name: 'shop', count: 3 })
    expect(await redis.hgetall(`${prefix}h`)).toEqual({ name: 'shop', count: 3 })
  })

  it('runs pipelines in order and transactions atomically', async () => {
    const p = redis.pipeline()
    p.set(`${prefix}p`, 1)
    p.incr(`${prefix}p`)
    p.get(`${prefix}p`)
    expect(await p.exec()).toEqual(['OK', 2, 2])

    const m = redis.multi()
    m.set(`${prefix}m`, 7)
    m.incrby(`${prefix}m`, 1)
    m.incrby(`${prefix}m`, 0)
    expect(await m.exec()).toEqual(['OK', 8, 8])
  })

  it('runs scripts by EVAL and by EVALSHA after SCRIPT LOAD', async () => {
    const script = "return {redis.call('INCR', KEYS[1]), ARGV[1]}"
    expect(await redis.eval(script, [`${prefix}e`], ['hi'])).toEqual([1, 'hi'])
    const sha = await redis.scriptLoad(script)
    expect(await redis.evalsha(sha, [`${prefix}e`], ['again'])).toEqual([2, 'again'])
  })

  it('accepts Upstash-only script flags and answers with the SHA the client expects', async () => {
    const script = "#!lua flags=allow-key-locking\nreturn redis.call('INCR', KEYS[1])"
    expect(await redis.eval(script, [`${prefix}f`], [])).toBe(1)
    const sha = await redis.scriptLoad(script)
    const expected = Buffer.from(await crypto.subtle.digest('SHA-1', new TextEncoder().encode(script)))
    expect(sha).toBe(expected.toString('hex'))
    expect(await redis.evalsha(sha, [`${prefix}f`], [])).toBe(2)
    expect(stripUpstashScriptFlags('#!lua flags=allow-key-locking,no-writes\nreturn 1')).toBe(
      '#!lua flags=no-writes\nreturn 1',
    )
  })

  it('surfaces Redis errors as errors, in single commands and pipelines', async () => {
    await redis.set(`${prefix}str`, 'x')
    await expect(redis.incr(`${prefix}str`)).rejects.toThrow(/not an integer/)
    const p = redis.pipeline()
    p.set(`${prefix}ok`, 1)
    p.hset(`${prefix}str`, { a: 1 })
    await expect(p.exec()).rejects.toThrow(/WRONGTYPE/)
  })

  it('answers 400 for Redis errors and 401 for a wrong token', async () => {
    const bad = await fetch(bridge.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(['NOSUCHCOMMAND']),
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toMatch(/unknown command/i)

    const unauthorized = new Redis({ url: bridge.url, token: 'wrong', retry: false, enableTelemetry: false })
    await expect(unauthorized.get(`${prefix}s`)).rejects.toThrow(/Unauthorized/)
  })
})
