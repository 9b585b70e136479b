/**
 * Origin configuration of API.md §16. /metrics at the origin requires METRICS_TOKEN when NODE_ENV=production (API.md §16). The
 * finding: without the variable /metrics was open to anyone who reached the origin. Now a
 * production origin without it does not start, and says why in one line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../origin/config.ts'
import { startOriginProcess } from '../harness/origin-process.ts'
import { type Stack, startStack } from '../harness/stack.ts'

let stack: Stack

beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.close()
})

describe('METRICS_TOKEN in production', () => {
  it('loadConfig refuses NODE_ENV=production without it, naming the variable', () => {
    const run = () => loadConfig({ ...stack.env, NODE_ENV: 'production', METRICS_TOKEN: '' })
    expect(run).toThrow(ConfigError)
    expect(run).toThrow(/^configuration: METRICS_TOKEN is not set/)
    expect(loadConfig({ ...stack.env, NODE_ENV: 'production', METRICS_TOKEN: 'm-token' }).METRICS_TOKEN).toBe(
      'm-token',
    )
    expect(loadConfig({ ...stack.env, NODE_ENV: 'development' }).METRICS_TOKEN).toBeUndefined()
  })

  it('GRANT_DAILY_MAX_POINTS defaults to 100 000 and must be a whole number', () => {
    const { GRANT_DAILY_MAX_POINTS: _, ...env } = stack.env
    expect(loadConfig(env).GRANT_DAILY_MAX_POINTS).toBe(100_000)
    expect(() => loadConfig({ ...env, GRANT_DAILY_MAX_POINTS: '1.5' })).toThrow(
      /^configuration: GRANT_DAILY_MAX_POINTS /,
    )
  })

  it('a production origin without it exits at start-up with one clear line', async () => {
    const failed = await startOriginProcess({ ...stack.env, NODE_ENV: 'production', METRICS_TOKEN: '' }).then(
      async (origin) => {
        await origin.stop()
        return null
      },
      (err: Error) => err.message,
    )
    expect(failed).toContain('origin exited with 1 during start-up')
    const lines = failed!.split('\n').filter((l) => l.trim() !== '')
    expect(lines.slice(1)).toEqual([
      'configuration: METRICS_TOKEN is not set (required when NODE_ENV=production)',
    ])
  })

  it('a production origin with it starts and guards /metrics with the bearer', async () => {
    const origin = await startOriginProcess({
      ...stack.env,
      NODE_ENV: 'production',
      METRICS_TOKEN: 'm-secret',
    })
    try {
      expect((await fetch(`${origin.url}/metrics`)).status).toBe(401)
      const ok = await fetch(`${origin.url}/metrics`, { headers: { authorization: 'Bearer m-secret' } })
      expect(ok.status).toBe(200)
      expect(await ok.text()).toContain('http_requests_total')
    } finally {
      await origin.stop()
    }
  })
})
