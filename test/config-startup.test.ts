/**
 * Start-up configuration of the real origin process: every problem reported at once, and the URLs
 * that carry passwords read from `_FILE`s like the other secrets.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from './harness/client.ts'
import { adminToken } from './harness/fixtures.ts'
import { startOriginProcess } from './harness/origin-process.ts'
import { REDIS_URL, type Stack, startStack } from './harness/stack.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))

/** Every variable of API.md §8 the origin cannot start without (the others have defaults). */
const REQUIRED = [
  'DATABASE_URL',
  'JWT_SECRET',
  'EDGE_SIGNING_KEYS',
  'PHONE_ENCRYPTION_KEYS',
  'PUBLIC_BASE_URL',
  'WECHAT_APPID',
  'WECHAT_APP_SECRET',
  'WECHAT_MCHID',
  'WECHAT_MCH_SERIAL_NO',
  'WECHAT_MCH_PRIVATE_KEY',
  'WECHAT_APIV3_KEY',
  'WECHAT_PAY_PUBLIC_KEY',
  'WECHAT_PAY_PUBLIC_KEY_ID',
]

/** Runs origin/main.ts with exactly `env` (plus PATH) until it exits by itself. */
function runOrigin(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'origin/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += d
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr += d
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr, stdout })
    }),
  )
}

const lines = (text: string) => text.split('\n').filter(Boolean)

describe('origin start-up with a bad environment', () => {
  it('names every required variable at once, one line each, and exits 1', async () => {
    const { code, stderr, stdout } = await runOrigin({})
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(lines(stderr)).toEqual(REQUIRED.map((name) => `configuration: ${name} is not set`))
  })

  it('reports malformed values and missing ones together, each with what is wrong', async () => {
    const { code, stderr } = await runOrigin({
      PORT: 'eighty',
      DATABASE_URL: 'postgres://nope',
      JWT_SECRET: 'too-short',
      WECHAT_APIV3_KEY: 'x',
    })
    expect(code).toBe(1)
    const got = lines(stderr)
    expect(got).toContain('configuration: PORT must be a port number (1-65535)')
    expect(got).toContain('configuration: DATABASE_URL must be mysql://user[:pass]@host:port/database')
    expect(got).toContain('configuration: JWT_SECRET must be at least 32 characters')
    expect(got).toContain('configuration: WECHAT_APIV3_KEY must be exactly 32 characters')
    expect(got).toContain('configuration: EDGE_SIGNING_KEYS is not set')
    expect(got).toHaveLength(REQUIRED.length + 1)
    for (const line of got) expect(line).toMatch(/^configuration: [A-Z0-9_]+ \S/)
  })
})

describe('origin URLs from _FILE secrets', () => {
  let stack: Stack
  let dir: string

  beforeAll(async () => {
    stack = await startStack()
    dir = mkdtempSync(join(tmpdir(), 'origin-file-secrets-'))
  })
  afterAll(async () => {
    await stack?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function secretFile(name: string, content: string): string {
    const path = join(dir, name)
    writeFileSync(path, `${content}\n`, { mode: 0o600 })
    return path
  }

  it('starts a working origin with DATABASE_URL, DATABASE_READ_URL and REDIS_URL only in files', async () => {
    const env = {
      ...stack.env,
      DATABASE_URL: '',
      REDIS_URL: '',
      DATABASE_URL_FILE: secretFile('database_url', stack.databaseUrl),
      DATABASE_READ_URL_FILE: secretFile('database_read_url', stack.databaseUrl),
      REDIS_URL_FILE: secretFile('redis_url', REDIS_URL),
    }
    const origin = await startOriginProcess(env)
    try {
      const ready = await fetch(`${origin.url}/ready`)
      expect(await ready.json()).toEqual({ status: 'ready', checks: { mysql: 'ok', redis: 'ok' } })
      // A signed login (MySQL writes, Redis nonce) and an admin read served by the read pool.
      const api = apiClient(origin.url)
      const stats = await api.get('/api/admin/stats', { token: await adminToken(api) })
      expect(stats.status).toBe(200)
    } finally {
      await origin.stop()
    }
  })

  it('parses what each file holds as that variable, and names an unreadable file', async () => {
    const { code, stderr } = await runOrigin({
      ...stack.env,
      DATABASE_URL: '',
      REDIS_URL: '',
      DATABASE_URL_FILE: join(dir, 'missing'),
      DATABASE_READ_URL_FILE: secretFile('bad_read_url', 'http://replica/points'),
      REDIS_URL_FILE: secretFile('bad_redis_url', 'tcp://127.0.0.1:6379'),
    })
    expect(code).toBe(1)
    expect(lines(stderr).sort()).toEqual([
      'configuration: DATABASE_READ_URL must be mysql://user[:pass]@host:port/database',
      `configuration: DATABASE_URL_FILE cannot be read (ENOENT: ${join(dir, 'missing')})`,
      'configuration: REDIS_URL must be redis://host:port',
    ])
  })
})
