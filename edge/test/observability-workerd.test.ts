/**
 * On workerd the per-request JSON line is what Workers Logs indexes: the same fields as on Deno,
 * printed by the worker itself (wrangler forwards the isolate's console to this process).
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import {
  type EdgeHandle,
  edgeEnv,
  type OriginHandle,
  randomIp,
  startOrigin,
  startWorkerd,
} from './support/harness.ts'

let origin: OriginHandle
let worker: EdgeHandle
const printed: string[] = []

beforeAll(async () => {
  origin = await startOrigin()
  // wrangler prints the worker's console through its logger, which calls this process's console.
  const keep = (...args: unknown[]) => {
    printed.push(args.map(String).join(' '))
  }
  vi.spyOn(console, 'log').mockImplementation(keep)
  vi.spyOn(console, 'error').mockImplementation(keep)
  worker = await startWorkerd(edgeEnv(origin.url, { RATE_LIMIT_LOGIN_MAX: '1' }), { logLevel: 'log' })
}, 60_000)

afterAll(async () => {
  await worker?.close()
  await origin?.close()
  vi.restoreAllMocks()
})

function requestLines(): Map<string, Record<string, unknown>> {
  const entries = printed
    .flatMap((text) => text.split('\n'))
    .filter((line) => line.startsWith('{"level"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  return new Map(entries.map((e) => [String(e.requestId), e]))
}

it('logs one JSON object per request, with the Analytics Engine binding of wrangler.toml in place', async () => {
  const ip = randomIp()
  const base = worker.url
  const call = (path: string, id: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, {
      ...init,
      headers: { 'x-request-id': id, 'cf-connecting-ip': ip },
    })
  expect((await call('/api/merchants/wd', 'wd-miss')).status).toBe(200)
  expect((await call('/api/merchants/wd', 'wd-hit')).headers.get('x-cache')).toBe('HIT')
  await call('/api/auth/login', 'wd-login', { method: 'POST', body: '{}' })
  expect((await call('/api/auth/login', 'wd-limited', { method: 'POST', body: '{}' })).status).toBe(429)

  await expect
    .poll(() => ['wd-miss', 'wd-hit', 'wd-login', 'wd-limited'].filter((id) => requestLines().has(id)).length)
    .toBe(4)
  const lines = requestLines()
  expect(lines.get('wd-miss')).toMatchObject({
    msg: 'request',
    route: '/api/merchants/:id',
    status: 200,
    cache: 'miss',
    limiter: 'allowed',
    originFailed: false,
    originMs: expect.any(Number),
    durationMs: expect.any(Number),
  })
  expect(lines.get('wd-hit')).toMatchObject({ cache: 'hit', originMs: null })
  expect(lines.get('wd-limited')).toMatchObject({ status: 429, limiter: 'limited', route: '/api/auth/login' })
  // Nothing went wrong writing the Analytics Engine data points (a failing sink logs an error).
  expect(printed.join('\n')).not.toContain('metrics sink failed')
})
