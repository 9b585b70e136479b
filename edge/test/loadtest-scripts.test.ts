/**
 * The k6 scripts in loadtest/ against the real stack through the Deno edge, run by the Node shim
 * (loadtest/node-shim/) since k6 cannot be installed here: their setup through the API, their
 * requests and every check they make must hold, or a user's first `npm run loadtest` fails.
 */
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBridge } from '../../ops/upstash-bridge.ts'
import {
  ADMIN_OPENID,
  HOLDS,
  invariants,
  REDIS_URL,
  type Stack,
  startStack,
} from '../../test/harness/stack.ts'
import {
  type EdgeHandle,
  edgeEnv,
  JWT_SECRET,
  SIGNING_KEY_ID,
  SIGNING_SECRET,
  startEdge,
} from './support/harness.ts'

const BRIDGE_TOKEN = 'loadtest-bridge-token'
let stack: Stack
let bridge: Awaited<ReturnType<typeof startBridge>>
let edge: EdgeHandle

beforeAll(async () => {
  stack = await startStack({ env: { JWT_SECRET, EDGE_SIGNING_KEYS: `${SIGNING_KEY_ID}:${SIGNING_SECRET}` } })
  // Its own Redis database: a load script's requests must not count against other files' limits.
  bridge = await startBridge({ port: 0, token: BRIDGE_TOKEN, redisUrl: `${REDIS_URL}/5` })
  edge = await startEdge(
    'deno',
    edgeEnv(stack.origin.url, {
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
      // The raised limits loadtest/README.md asks for.
      RATE_LIMIT_IP_MAX: '100000',
      RATE_LIMIT_LOGIN_MAX: '100000',
      RATE_LIMIT_WRITE_MAX: '100000',
    }),
  )
})
afterAll(async () => {
  await edge?.close()
  await bridge?.close()
  if (stack) expect(await invariants(stack)).toEqual(HOLDS)
  await stack?.close()
})

function runScript(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['loadtest/node-shim/run.mjs', script, '--vus', '2', '--iterations', '3'],
      {
        env: {
          ...process.env,
          BASE_URL: edge.url,
          SANDBOX_URL: stack.sandbox.url,
          ADMIN_OPENID,
          THINK_S: '0',
          VUS: '2',
        },
      },
    )
    let output = ''
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    child.on('error', reject)
    child.on('exit', (code) => resolve({ code, output }))
  })
}

describe('k6 scripts, through the Deno edge', () => {
  it.each(['scan', 'pay', 'gifts'])(
    'loadtest/%s.js: setup, 2 VUs × 3 iterations, every check passes',
    async (name) => {
      const { code, output } = await runScript(`loadtest/${name}.js`)
      expect(output).toMatch(/ 0 failed, 0 iterations threw/)
      expect(output).not.toMatch(/✗/)
      expect(code, output).toBe(0)
    },
    60_000,
  )
})
