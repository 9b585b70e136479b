/**
 * Static check of a provisioned Grafana dashboard (ops/check-static.sh runs it):
 *   node ops/grafana/check-dashboard.mjs ops/grafana/dashboards/points.json [--rules-out FILE]
 * Parses the JSON, checks the shape Grafana's file provisioning needs (uid, unique panel ids,
 * grid positions, the provisioned datasource uid) and that the panels the operators rely on are
 * there, recognised by their queries rather than their titles so a rename does not break it.
 * With --rules-out it writes every query as a recording rule, so `promtool check rules` can
 * parse the PromQL (Grafana's $variables replaced by plain values).
 */
import { readFileSync, writeFileSync } from 'node:fs'

const DATASOURCE_UID = 'prometheus'

/** What must be on the dashboard: a name and a test on one query's text. */
const REQUIRED = [
  ['QPS', (e) => /rate\(http_requests_total\{/.test(e) && !/status=~"5/.test(e)],
  ['latency P50', (e) => /histogram_quantile\(0\.50?,[\s\S]*http_request_duration_seconds_bucket/.test(e)],
  ['latency P95', (e) => /histogram_quantile\(0\.95,[\s\S]*http_request_duration_seconds_bucket/.test(e)],
  ['latency P99', (e) => /histogram_quantile\(0\.99,[\s\S]*http_request_duration_seconds_bucket/.test(e)],
  ['error rate (5xx ratio)', (e) => /status=~"5\.\."[\s\S]*\/[\s\S]*http_requests_total/.test(e)],
  ['payment success rate', (e) => /payment_success_total[\s\S]*\/[\s\S]*payment_total/.test(e)],
  [
    'points-award success rate',
    (e) => /points_award_success_total[\s\S]*\/[\s\S]*points_award_total/.test(e),
  ],
  ['points issued', (e) => /points_moved_total\{[^}]*kind="EARN"/.test(e)],
  ['points clawed back', (e) => /points_moved_total\{[^}]*kind="REFUND_CLAWBACK"/.test(e)],
  ['points moved by kind', (e) => /by \(kind\)[\s\S]*points_moved_total/.test(e)],
  ['gifts by status', (e) => /by \(status\)[\s\S]*gifts_total/.test(e)],
  ['orders by status', (e) => /by \(status\)[\s\S]*orders_total/.test(e)],
  ['job last success age', (e) => /time\(\) - [\s\S]*job_last_success_timestamp_seconds/.test(e)],
  // The edge row (metrics of edge/observability/metrics.ts, Prometheus job "edge").
  ['edge requests', (e) => /rate\(edge_http_requests_total\{/.test(e)],
  [
    'edge cache hit ratio',
    (e) => /edge_cache_lookups_total\{[^}]*result="hit"[\s\S]*\/[\s\S]*edge_cache_lookups_total/.test(e),
  ],
  ['edge 429s', (e) => /edge_rate_limit_decisions_total\{[^}]*decision="limited"/.test(e)],
  [
    'edge latency P95',
    (e) => /histogram_quantile\(0\.95,[\s\S]*edge_http_request_duration_seconds_bucket/.test(e),
  ],
  ['edge origin latency', (e) => /histogram_quantile\([\s\S]*edge_origin_duration_seconds_bucket/.test(e)],
  ['edge origin failures', (e) => /edge_origin_failures_total/.test(e)],
]

const args = process.argv.slice(2)
const file = args[0]
const rulesOutAt = args.indexOf('--rules-out')
const rulesOut = rulesOutAt > 0 ? args[rulesOutAt + 1] : undefined
if (!file) {
  console.error('usage: check-dashboard.mjs DASHBOARD.json [--rules-out FILE]')
  process.exit(2)
}

const problems = []
let dashboard
try {
  dashboard = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  console.error(`${file}: ${err.message}`)
  process.exit(1)
}

if (typeof dashboard.uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(dashboard.uid))
  problems.push('dashboard uid missing or not 1-40 of [A-Za-z0-9_-] (provisioning keys on it)')
if (!dashboard.title) problems.push('dashboard title missing')
if (!Array.isArray(dashboard.panels) || dashboard.panels.length === 0) problems.push('no panels')

// Rows may nest panels when collapsed; flatten so both layouts are checked.
const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])])
const ids = new Set()
const queries = []
for (const panel of panels) {
  const where = `panel ${panel.id} "${panel.title}"`
  if (!Number.isInteger(panel.id)) problems.push(`${where}: id is not an integer`)
  else if (ids.has(panel.id)) problems.push(`${where}: duplicate id`)
  ids.add(panel.id)
  const g = panel.gridPos
  if (!g || ![g.x, g.y, g.w, g.h].every(Number.isInteger) || g.x + g.w > 24)
    problems.push(`${where}: gridPos missing or wider than 24 columns`)
  if (panel.type === 'row') continue
  if (panel.datasource?.uid !== DATASOURCE_UID)
    problems.push(`${where}: datasource uid is not "${DATASOURCE_UID}" (the provisioned one)`)
  if (!Array.isArray(panel.targets) || panel.targets.length === 0) problems.push(`${where}: no queries`)
  for (const target of panel.targets ?? []) {
    if (typeof target.expr !== 'string' || target.expr.trim() === '')
      problems.push(`${where}: query ${target.refId} has no expr`)
    else queries.push({ panel, refId: target.refId, expr: target.expr })
  }
}

for (const [name, test] of REQUIRED) {
  if (!queries.some((q) => test(q.expr))) problems.push(`required panel missing: ${name}`)
}

if (rulesOut) {
  // Grafana's variables become plain values so Prometheus's parser accepts the queries.
  const plain = (expr) =>
    expr
      .replaceAll('$__rate_interval', '1m')
      .replaceAll('$__interval', '1m')
      .replaceAll('$__range', '1h')
      .replaceAll('$instance', '.*')
  const rules = queries.map(
    (q) =>
      `      - record: dashboard:panel_${q.panel.id}_${q.refId}\n        expr: ${JSON.stringify(plain(q.expr))}`,
  )
  writeFileSync(rulesOut, `groups:\n  - name: dashboard-queries\n    rules:\n${rules.join('\n')}\n`)
}

if (problems.length > 0) {
  for (const p of problems) console.error(`${file}: ${p}`)
  process.exit(1)
}
console.log(
  `${file}: ${panels.length} panels, ${queries.length} queries, all ${REQUIRED.length} required panels present`,
)
