// The cached merchant page (or, with `auth`, an authenticated balance read forwarded to the origin)
// through the Deno edge of a checkout (this one, or another for an A/B), against a stub origin and
// a bridge to local Redis database 8: 10 connections, 10 s after a 3 s warm-up. Prints the Deno
// process's CPU per request beside the rate, since on a shared machine the rate moves with the load.
// Usage: node --import tsx bench/edge-cached-read.ts <checkout-dir> <label> [cached|auth]
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { sign } from 'hono/jwt'
import { autocannonRun } from './lib/load.ts'

const [repo = '.', label = 'this checkout', mode = 'cached'] = process.argv.slice(2)
const JWT_SECRET = 'j'.repeat(40)
const origin = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=30' })
  res.end(JSON.stringify({ id: '1', name: 'Cafe', status: 'ACTIVE', rule: { earnPoints: 1 } }))
})
await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r))
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`
const { startBridge } = await import('../ops/upstash-bridge.ts')
const bridge = await startBridge({ port: 0, token: 'ab-token', redisUrl: 'redis://127.0.0.1:6379/8' })
const port = 18000 + Math.floor(Math.random() * 1000)
const child = spawn(
  `${repo}/node_modules/.bin/deno`,
  ['run', '--allow-net', '--allow-env', '--allow-read', 'edge/deno.ts'],
  {
    cwd: repo,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DENO_NO_UPDATE_CHECK: '1',
      ORIGIN_URL: originUrl,
      UPSTASH_REDIS_REST_URL: bridge.url,
      UPSTASH_REDIS_REST_TOKEN: 'ab-token',
      JWT_SECRET,
      EDGE_SIGNING_KEY_ID: 'k1',
      EDGE_SIGNING_SECRET: 's'.repeat(32),
      RATE_LIMIT_IP_MAX: '100000000',
      EDGE_PORT: String(port),
      EDGE_HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
)
await new Promise<void>((r) => child.stdout?.on('data', (d) => String(d).includes('listening') && r()))
const url = `http://127.0.0.1:${port}${mode === 'auth' ? '/api/points/balance' : '/api/merchants/1'}`
const token = await sign({ sub: '42', exp: Math.floor(Date.now() / 1000) + 3600 }, JWT_SECRET, 'HS256')
const headers = mode === 'auth' ? { authorization: `Bearer ${token}` } : undefined
await fetch(url, { headers }).then((r) => r.text())
await autocannonRun({ url, connections: 10, durationS: 3, headers })
const cpuS = () => {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
const before = cpuS()
const result = await autocannonRun({ url, connections: 10, durationS: 10, headers })
const denoMs = ((cpuS() - before) * 1000) / result.requests
const { p50, p99 } = result.latencyMs
console.log(
  `${label} (${mode}): ${result.rps} req/s, p50 ${p50} ms, p99 ${p99} ms, Deno ${denoMs.toFixed(3)} ms CPU per request, non-2xx ${result.non2xx}, errors ${result.errors}`,
)
child.kill('SIGTERM')
await bridge.close()
origin.close()
process.exit(0)
