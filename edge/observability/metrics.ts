/**
 * The edge's counters in one isolate/process, rendered in the Prometheus text format (0.0.4) for
 * the Deno deployment's /metrics. On Workers every isolate counts alone and none can be scraped,
 * so there the same records go to Analytics Engine instead.
 */
import type { RequestRecord, RequestSink } from './record.ts'

const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

type Labels = Record<string, string>

const escapeLabel = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  return pairs.length ? `{${pairs.join(',')}}` : ''
}

class Counter {
  private readonly values = new Map<string, number>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels)
    this.values.set(key, (this.values.get(key) ?? 0) + by)
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const [labels, value] of this.values) lines.push(`${this.name}${labels} ${value}`)
    return lines
  }
}

class Histogram {
  private readonly series = new Map<
    string,
    { labels: Labels; buckets: number[]; sum: number; count: number }
  >()
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: number[],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const key = labelText(labels)
    let s = this.series.get(key)
    if (!s) {
      s = { labels, buckets: this.bounds.map(() => 0), sum: 0, count: 0 }
      this.series.set(key, s)
    }
    this.bounds.forEach((bound, i) => {
      if (value <= bound) s.buckets[i]! += 1
    })
    s.sum += value
    s.count += 1
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const { labels, buckets, sum, count } of this.series.values()) {
      this.bounds.forEach((bound, i) => {
        lines.push(`${this.name}_bucket${labelText({ ...labels, le: String(bound) })} ${buckets[i]}`)
      })
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`)
      lines.push(`${this.name}_sum${labelText(labels)} ${sum}`)
      lines.push(`${this.name}_count${labelText(labels)} ${count}`)
    }
    return lines
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export class EdgeMetrics implements RequestSink {
  private readonly requests = new Counter(
    'edge_http_requests_total',
    'Requests answered by the edge, by route template, method and status.',
  )
  private readonly duration = new Histogram(
    'edge_http_request_duration_seconds',
    'Time from receiving a request to the edge having its answer, by route template.',
    DURATION_BUCKETS_S,
  )
  private readonly cache = new Counter(
    'edge_cache_lookups_total',
    'Cache lookups of cacheable requests (public merchant pages), by result hit|miss.',
  )
  private readonly limiter = new Counter(
    'edge_rate_limit_decisions_total',
    'Rate-limit checks, by decision allowed|limited.',
  )
  private readonly origin = new Histogram(
    'edge_origin_duration_seconds',
    'Time the origin took to answer a forwarded request (failures included).',
    DURATION_BUCKETS_S,
  )
  private readonly originFailures = new Counter(
    'edge_origin_failures_total',
    'Forwarded requests the origin did not answer (refused or timed out).',
  )

  record(entry: RequestRecord): void {
    this.requests.inc({ route: entry.route, method: entry.method, status: String(entry.status) })
    this.duration.observe(entry.durationMs / 1000, { route: entry.route })
    if (entry.cache !== 'none') this.cache.inc({ result: entry.cache })
    if (entry.limiter !== 'none') this.limiter.inc({ decision: entry.limiter })
    if (entry.originMs !== null) this.origin.observe(entry.originMs / 1000)
    // Always present, so alerts on its rate see 0 rather than no data.
    this.originFailures.inc({}, entry.originFailed ? 1 : 0)
  }

  render(): string {
    const families = [
      this.requests,
      this.duration,
      this.cache,
      this.limiter,
      this.origin,
      this.originFailures,
    ]
    return `${families.flatMap((f) => f.render()).join('\n')}\n`
  }
}
