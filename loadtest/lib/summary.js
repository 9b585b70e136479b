/**
 * k6's end-of-test hook for every script: the whole summary as JSON in
 * `<SUMMARY_DIR>/<script>-summary.json` (`-e SUMMARY_DIR=`, default: the working directory;
 * `npm run loadtest` passes loadtest/results/), for comparing runs or feeding a dashboard, and a
 * short text on stdout, since returning anything from handleSummary replaces k6's own text.
 */

const fixed = (v) => (typeof v === 'number' ? (Math.round(v * 100) / 100).toString() : String(v))

function metricLine(name, metric) {
  const v = metric.values
  if (metric.type === 'trend')
    return `${name}: avg ${fixed(v.avg)} med ${fixed(v.med)} p(95) ${fixed(v['p(95)'])} p(99) ${fixed(v['p(99)'])} max ${fixed(v.max)}`
  if (metric.type === 'rate')
    return `${name}: ${fixed(v.rate * 100)} % (${v.passes} of ${v.passes + v.fails})`
  if (metric.type === 'counter') return `${name}: ${v.count} (${fixed(v.rate)}/s)`
  return `${name}: ${fixed(v.value)}`
}

/** The text k6 prints: every threshold with its verdict, then every metric's headline values. */
export function textSummary(script, data) {
  const lines = [`${script}: thresholds`]
  let failed = 0
  for (const name of Object.keys(data.metrics).sort()) {
    const thresholds = data.metrics[name].thresholds || {}
    for (const expr of Object.keys(thresholds)) {
      const ok = thresholds[expr].ok
      if (!ok) failed++
      lines.push(`  ${ok ? '✓' : '✗'} ${name} ${expr}`)
    }
  }
  lines.push(`${script}: ${failed ? `${failed} threshold(s) FAILED` : 'all thresholds passed'}`, 'metrics')
  for (const name of Object.keys(data.metrics).sort()) lines.push(`  ${metricLine(name, data.metrics[name])}`)
  return `${lines.join('\n')}\n`
}

/** `export const handleSummary = summaryHandler('scan')` in each script. */
export function summaryHandler(script) {
  return (data) => {
    const dir = (__ENV.SUMMARY_DIR || '.').replace(/\/+$/, '')
    const out = { stdout: textSummary(script, data) }
    out[`${dir}/${script}-summary.json`] = JSON.stringify(data, null, 2)
    return out
  }
}
