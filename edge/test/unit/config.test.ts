import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../config.ts'

const minimal = {
  ORIGIN_URL: 'http://127.0.0.1:3000',
  UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:8079',
  UPSTASH_REDIS_REST_TOKEN: 't',
  JWT_SECRET: 'j',
  EDGE_SIGNING_KEY_ID: 'k1',
  EDGE_SIGNING_SECRET: 's',
}

describe('parseConfig', () => {
  it('applies the API.md defaults', () => {
    const config = parseConfig(minimal)
    expect(config).toMatchObject({
      RATE_LIMIT_IP_MAX: 1000,
      RATE_LIMIT_IP_WINDOW_S: 900,
      RATE_LIMIT_LOGIN_MAX: 20,
      RATE_LIMIT_WRITE_MAX: 60,
      EDGE_PORT: 8787,
    })
  })

  it('reads numbers given as strings, as workerd vars and env always are', () => {
    expect(parseConfig({ ...minimal, RATE_LIMIT_WRITE_MAX: '5' }).RATE_LIMIT_WRITE_MAX).toBe(5)
  })

  it.each([
    ['a missing variable', { ...minimal, JWT_SECRET: undefined }, /JWT_SECRET is required/],
    [
      'an empty variable',
      { ...minimal, UPSTASH_REDIS_REST_TOKEN: '' },
      /UPSTASH_REDIS_REST_TOKEN is required/,
    ],
    ['a malformed URL', { ...minimal, ORIGIN_URL: 'localhost:3000' }, /ORIGIN_URL must be an http\(s\) URL/],
    ['a malformed number', { ...minimal, RATE_LIMIT_IP_MAX: 'lots' }, /RATE_LIMIT_IP_MAX/],
    ['a key id the origin cannot parse', { ...minimal, EDGE_SIGNING_KEY_ID: 'a:b' }, /EDGE_SIGNING_KEY_ID/],
  ])('names the variable for %s, in one line', (_name, env, message) => {
    expect(() => parseConfig(env)).toThrow(message)
    try {
      parseConfig(env)
    } catch (err) {
      expect((err as Error).message).not.toContain('\n')
    }
  })

  it('names every missing or malformed variable at once, one line each', () => {
    let message = ''
    try {
      parseConfig({ ORIGIN_URL: 'localhost:3000', RATE_LIMIT_IP_MAX: '-1' })
    } catch (err) {
      message = (err as Error).message
    }
    expect(message.split('\n').sort()).toEqual([
      'edge configuration: EDGE_SIGNING_KEY_ID is required',
      'edge configuration: EDGE_SIGNING_SECRET is required',
      'edge configuration: JWT_SECRET is required',
      'edge configuration: ORIGIN_URL must be an http(s) URL',
      'edge configuration: RATE_LIMIT_IP_MAX must be a positive integer',
      'edge configuration: UPSTASH_REDIS_REST_TOKEN is required',
      'edge configuration: UPSTASH_REDIS_REST_URL is required',
    ])
  })
})
