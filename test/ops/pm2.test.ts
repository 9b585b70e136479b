/**
 * The origin under real PM2 with ops/pm2/ecosystem.config.cjs: two cluster workers on one port,
 * /metrics counting the requests of both whichever answers, and a rolling `pm2 reload` under
 * continuous writes that fails none of them.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from '../harness/client.ts'
import { idemKey, userWithPoints } from '../harness/fixtures.ts'
import { type Pm2, pm2Sandbox, productionOriginEnv } from '../harness/pm2.ts'
import { freePort, waitForHttp } from '../harness/ports.ts'
import { HOLDS, invariants, type Stack, startStack } from '../harness/stack.ts'

let stack: Stack
let pm2: Pm2
let logDir: string
let url: string
let env: Record<string, string>
const METRICS_TOKEN = `pm2-test-${crypto.randomUUID()}`

/** Sum of one counter over every series (every worker) matching `match`. */
function counterSum(text: string, name: string, match: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(match))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
}

beforeAll(async () => {
  stack = await startStack()
  await stack.origin.stop()
  execFileSync(process.execPath, ['ops/build-origin.mjs'], { cwd: join(import.meta.dirname, '../..') })
  pm2 = pm2Sandbox()
  logDir = mkdtempSync(join(tmpdir(), 'pm2-logs-'))
  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  env = productionOriginEnv(stack.env, { port, logDir, metricsToken: METRICS_TOKEN })
  await pm2.pm2(['start', 'ops/pm2/ecosystem.config.cjs'], env)
  await waitForHttp(`${url}/ready`, 30_000)
}, 90_000)

afterAll(async () => {
  await pm2?.kill()
  if (logDir) rmSync(logDir, { recursive: true, force: true })
  if (env) rmSync(join(tmpdir(), `points-origin-${env.PORT}`), { recursive: true, force: true })
  await stack?.close()
})

describe('PM2 cluster', () => {
  it('runs two workers whose requests all show in /metrics, whichever worker answers the scrape', async () => {
    const procs = await pm2.list()
    expect(procs).toHaveLength(2)
    expect(procs.map((p) => p.pm2_env.status)).toEqual(['online', 'online'])
    expect(procs.map((p) => p.pm2_env.exec_mode)).toEqual(['cluster_mode', 'cluster_mode'])
    expect(new Set(procs.map((p) => p.pid)).size).toBe(2)

    const before = counterSum(
      await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text(),
      'http_requests_total',
      'route="/health"',
    )
    // Ten parallel keep-alive connections, spread over both workers by the cluster.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 20; i++) expect((await fetch(`${url}/health`)).status).toBe(200)
      }),
    )
    for (let scrape = 0; scrape < 6; scrape++) {
      const text = await (
        await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
      ).text()
      expect(counterSum(text, 'http_requests_total', 'route="/health"') - before).toBe(200)
      for (const worker of ['0', '1']) {
        expect(
          counterSum(text, 'http_requests_total', `route="/health",status="200",worker="${worker}"`),
        ).toBeGreaterThan(0)
      }
      expect(text.match(/^# TYPE http_requests_total counter$/gm)).toHaveLength(1)
    }
  })

  it('reloads worker by worker under continuous writes without failing one', async () => {
    const api = apiClient(url)
    const sender = await userWithPoints(api, 100_000)
    const pidsBefore = (await pm2.list()).map((p) => p.pid)
    const outcomes: string[] = []
    let sending = true
    const senders = Array.from({ length: 6 }, async () => {
      while (sending) {
        try {
          const r = await api.post(
            '/api/points/gifts',
            { points: 1 },
            { token: sender.token, idempotencyKey: idemKey() },
          )
          outcomes.push(String(r.status))
        } catch (err) {
          outcomes.push(`error: ${(err as Error).cause ?? err}`)
        }
      }
    })
    await new Promise((r) => setTimeout(r, 500))
    const sentBeforeReload = outcomes.length
    await pm2.pm2(['reload', 'ops/pm2/ecosystem.config.cjs', '--update-env'], env)
    // The second worker's drain runs after the command returns: keep sending through it.
    await new Promise((r) => setTimeout(r, 2500))
    sending = false
    await Promise.all(senders)

    const procs = await pm2.list()
    expect(procs.map((p) => p.pm2_env.status)).toEqual(['online', 'online'])
    expect(procs.map((p) => p.pid).filter((pid) => pidsBefore.includes(pid))).toEqual([])
    expect(sentBeforeReload).toBeGreaterThan(0)
    expect(outcomes.length).toBeGreaterThan(sentBeforeReload + 100)
    expect(outcomes.filter((o) => o !== '201')).toEqual([])
    const balance = await api.get('/api/points/balance', { token: sender.token })
    expect(balance.body).toMatchObject({ balance: 100_000 - outcomes.length, heldInGifts: outcomes.length })
    expect(await invariants(stack)).toEqual(HOLDS)
  })
})
