/**
 * Debian's Prometheus against a running origin with the repo's scrape config, alert rules and the
 * Grafana dashboard's queries: every rule evaluates, every origin metric they name is exported,
 * no origin alert fires on a healthy system, and no origin panel shows "No data".
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { control } from '../../sandbox/testing.ts'
import { apiClient } from '../harness/client.ts'
import { activeMerchant, idemKey, uniqueOpenid } from '../harness/fixtures.ts'
import { freePort, waitForHttp } from '../harness/ports.ts'
import { type Stack, startStack } from '../harness/stack.ts'

const ROOT = join(import.meta.dirname, '../..')
const METRICS_TOKEN = 'prometheus-test-token'
const ORIGIN_ALERTS = [
  'AppDown',
  'HighErrorRate',
  'HighResponseTime',
  'PaymentSuccessRateLow',
  'PointsAwardSuccessRateLow',
  'JobNotRunning',
]

let stack: Stack
let dir: string
let prometheus: ChildProcess
let prom: string
let dashboardQueries: string[]

/** Replaces `from` in `text`, failing loudly when the repo's file no longer has it. */
function swap(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`prometheus.yml no longer contains ${from}`)
  return text.split(from).join(to)
}

async function query(expr: string): Promise<unknown[]> {
  const res = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`)
  const body = (await res.json()) as { status: string; data: { result: unknown[] }; error?: string }
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`)
  return body.data.result
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

async function healthyTraffic() {
  const api = apiClient(stack.origin.url)
  const m = await activeMerchant(api)
  const shopper = await api.login(uniqueOpenid('shopper'))
  const order = await api.post(
    '/api/orders',
    { merchantId: m.merchantId, amountFen: 5000 },
    { token: shopper.token, idempotencyKey: idemKey() },
  )
  expect(order.status).toBe(201)
  await control(stack.sandbox, 'POST', '/pay', { outTradeNo: order.body.outTradeNo })
  await until('the order to be paid', async () => {
    const o = await api.get(`/api/orders/${order.body.id}`, { token: shopper.token })
    return o.body.status === 'PAID' ? true : undefined
  })
  const gift = await api.post(
    '/api/points/gifts',
    { points: 1 },
    { token: shopper.token, idempotencyKey: idemKey() },
  )
  expect(gift.status).toBe(201)
}

beforeAll(async () => {
  stack = await startStack({ env: { METRICS_TOKEN } })
  await healthyTraffic()
  dir = mkdtempSync(join(tmpdir(), 'prometheus-'))
  writeFileSync(join(dir, 'metrics_token'), METRICS_TOKEN)
  copyFileSync(join(ROOT, 'ops/prometheus/alerts.yml'), join(dir, 'alerts.yml'))
  execFileSync(process.execPath, [
    join(ROOT, 'ops/grafana/check-dashboard.mjs'),
    join(ROOT, 'ops/grafana/dashboards/points.json'),
    '--rules-out',
    join(dir, 'dashboard.yml'),
  ])
  dashboardQueries = [
    ...readFileSync(join(dir, 'dashboard.yml'), 'utf8').matchAll(/^\s+expr: (".*")$/gm),
  ].map((m) => JSON.parse(m[1]!) as string)
  let config = readFileSync(join(ROOT, 'ops/prometheus/prometheus.yml'), 'utf8')
  config = swap(config, 'scrape_interval: 15s', 'scrape_interval: 1s')
  config = swap(config, 'evaluation_interval: 15s', 'evaluation_interval: 1s')
  config = swap(config, '/run/secrets/metrics_token', join(dir, 'metrics_token'))
  config = swap(config, '"origin:3000"', `"127.0.0.1:${stack.origin.port}"`)
  config = swap(config, '  - alerts.yml\n', '  - alerts.yml\n  - dashboard.yml\n')
  writeFileSync(join(dir, 'prometheus.yml'), config)
  const port = await freePort()
  prom = `http://127.0.0.1:${port}`
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  )
  await waitForHttp(`${prom}/-/ready`, 30_000)
}, 120_000)

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus.once('exit', r))
    prometheus.kill('SIGTERM')
    await exited
  }
  if (dir) rmSync(dir, { recursive: true, force: true })
  await stack?.close()
})

describe('Prometheus against the origin', () => {
  it('scrapes the origin with the bearer token and evaluates every rule with health ok', async () => {
    await until('the origin target to be up', async () => {
      const res = await (await fetch(`${prom}/api/v1/targets`)).json()
      const origin = res.data.activeTargets.find(
        (t: { labels: { job: string } }) => t.labels.job === 'origin',
      )
      return origin?.health === 'up' ? origin : undefined
    })
    const startedAt = Date.now()
    type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string }
    const rules = await until('two rounds of rule evaluation', async () => {
      const res = await (await fetch(`${prom}/api/v1/rules`)).json()
      const all: Rule[] = res.data.groups.flatMap((g: { rules: Rule[] }) => g.rules)
      return all.length > 0 && all.every((r) => Date.parse(r.lastEvaluation) > startedAt + 1000)
        ? all
        : undefined
    })
    const alerting = rules.filter((r) => !r.name.startsWith('dashboard:'))
    expect(alerting.length).toBeGreaterThanOrEqual(12)
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([])
  })

  it('finds every origin metric the rules and the dashboard name in /metrics', async () => {
    const texts = [readFileSync(join(ROOT, 'ops/prometheus/alerts.yml'), 'utf8'), ...dashboardQueries]
    const named = new Set<string>()
    for (const text of texts) {
      for (const m of text.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{[^}]*job="origin"/g)) {
        if (m[1] !== 'up') named.add(m[1]!)
      }
    }
    expect(named.size).toBeGreaterThanOrEqual(10)
    const res = await fetch(`${stack.origin.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    })
    const types = new Map([...(await res.text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]))
    const isExported = (name: string) => {
      const histogram = name.match(/^(.+)_(bucket|count|sum)$/)
      return types.has(name) || (histogram !== null && types.get(histogram[1]) === 'histogram')
    }
    expect([...named].filter((name) => !isExported(name))).toEqual([])
  })

  it('shows data in every origin panel and fires no origin alert on a healthy system', async () => {
    // rate() needs two samples inside its window after the traffic.
    await until('rates over the traffic', async () =>
      (await query('sum(rate(http_requests_total{job="origin"}[1m]))')).length > 0 ? true : undefined,
    )
    const empty: string[] = []
    for (const expr of dashboardQueries.filter((e) => e.includes('job="origin"'))) {
      if ((await query(expr)).length === 0) empty.push(expr)
    }
    expect(empty).toEqual([])
    const res = await (await fetch(`${prom}/api/v1/alerts`)).json()
    const raised = res.data.alerts
      .map((a: { labels: { alertname: string } }) => a.labels.alertname)
      .filter((name: string) => ORIGIN_ALERTS.includes(name))
    expect(raised).toEqual([])
  })
})
