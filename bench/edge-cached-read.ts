// The cached merchant page through the Deno edge of a checkout (this one, or another for an A/B),
// against a stub origin and a bridge to local Redis database 8: 10 connections, 10 s after a 3 s warm-up.
// Usage: node --import tsx bench/edge-cached-read.ts <checkout-dir> <label>
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { autocannonRun } from './lib/load.ts'

const [repo = '.', label = 'this checkout'] = process.argv.slice(2)
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
      JWT_SECRET: 'j'.repeat(40),
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
const url = `http://127.0.0.1:${port}/api/merchants/1`
await fetch(url).then((r) => r.text())
await autocannonRun({ url, connections: 10, durationS: 3 })
const result = await autocannonRun({ url, connections: 10, durationS: 10 })
const { p50, p99 } = result.latencyMs
console.log(
  `${label}: ${result.rps} req/s, p50 ${p50} ms, p99 ${p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}`,
)
child.kill('SIGTERM')
await bridge.close()
origin.close()
process.exit(0)
