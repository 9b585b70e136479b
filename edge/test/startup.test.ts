/** The Deno edge started with an empty environment names every required variable, then exits. */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const REQUIRED = [
  'ORIGIN_URL',
  'UPSTASH_REDIS_REST_URL',
  'UPSTASH_REDIS_REST_TOKEN',
  'JWT_SECRET',
  'EDGE_SIGNING_KEY_ID',
  'EDGE_SIGNING_SECRET',
]

it('reports every missing edge variable in one start, one line each, and exits 1', async () => {
  const denoDir = mkdtempSync(join(tmpdir(), 'edge-deno-'))
  try {
    const child = spawn(
      'node_modules/.bin/deno',
      ['run', '--allow-net', '--allow-env', '--allow-read', 'edge/deno.ts'],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d
    })
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(stderr.split('\n').filter(Boolean)).toEqual(
      REQUIRED.map((name) => `edge configuration: ${name} is required`),
    )
  } finally {
    rmSync(denoDir, { recursive: true, force: true })
  }
}, 30_000)
