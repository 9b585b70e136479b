/**
 * The k6 scripts in loadtest/ against the real stack through the Deno edge, run by the Node shim
 * (loadtest/node-shim/) since k6 cannot be installed here: their setup through the API, their
 * requests and every check they make must hold, or a user's first `npm run loadtest` fails.
 */
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_OPENID, HOLDS, invariants } from '../../test/harness/stack.ts'
import { type EdgeHandle, startEdge } from './support/harness.ts'
import { type RealStack, startRealStack } from './support/real-stack.ts'

let real: RealStack
let edge: EdgeHandle

beforeAll(async () => {
  real = await startRealStack(5)
  edge = await startEdge('deno', real.edgeEnv())
})
afterAll(async () => {
  await edge?.close()
  if (real) expect(await invariants(real.stack)).toEqual(HOLDS)
  await real?.close()
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
          SANDBOX_URL: real.stack.sandbox.url,
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
