/**
 * Two closed-loop load generators, both reporting exact percentiles from every latency sample:
 * autocannon for fixed requests (health, edge reads), and a small node:http loop for requests that
 * must differ each time (edge-signed requests with fresh nonces, one notification per order).
 */
import { Agent, request } from 'node:http'
import autocannon from 'autocannon'

export interface Latency {
  p50: number
  p95: number
  p99: number
  max: number
  mean: number
}

export interface LoadResult {
  requests: number
  durationS: number
  rps: number
  connections: number
  statuses: Record<string, number>
  /** Answers outside 2xx. */
  non2xx: number
  /** Socket errors and timeouts: no answer at all. */
  errors: number
  latencyMs: Latency
  /** A few non-2xx bodies, to say why. */
  failureSamples?: string[]
}

export function percentiles(samples: number[]): Latency {
  if (samples.length === 0)
    return { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN }
  const sorted = Float64Array.from(samples).sort()
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
  let sum = 0
  for (const v of sorted) sum += v
  const round = (v: number) => Math.round(v * 100) / 100
  return {
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]!),
    mean: round(sum / sorted.length),
  }
}

/** autocannon against one fixed request; latencies come from its per-response event. */
export function autocannonRun(opts: {
  url: string
  connections: number
  durationS: number
  headers?: Record<string, string>
  /** Requests per second from all connections together (an arrival rate); unset, as fast as answered. */
  overallRate?: number
}): Promise<LoadResult> {
  const samples: number[] = []
  const statuses: Record<string, number> = {}
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        duration: opts.durationS,
        headers: opts.headers,
        timeout: 10,
        ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
      },
      (err, result) => {
        if (err) return reject(err)
        const durationS = (result.finish.getTime() - result.start.getTime()) / 1000
        let non2xx = 0
        for (const [status, n] of Object.entries(statuses)) if (!status.startsWith('2')) non2xx += n
        resolve({
          requests: samples.length,
          durationS,
          rps: Math.round(samples.length / durationS),
          connections: opts.connections,
          statuses,
          non2xx,
          errors: result.errors + result.timeouts,
          latencyMs: percentiles(samples),
        })
      },
    )
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      samples.push(responseTime)
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
    })
  })
}

export interface HttpRequestSpec {
  method: string
  path: string
  headers: Record<string, string>
  body?: string
}

interface HttpAnswer {
  status: number
  body: string
}

function send(agent: Agent, base: URL, spec: HttpRequestSpec, keepBody: boolean): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers = { ...spec.headers }
    if (spec.body !== undefined) headers['content-length'] = String(Buffer.byteLength(spec.body))
    const req = request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: spec.method,
        path: spec.path,
        headers,
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => {
          if (keepBody || (res.statusCode ?? 0) >= 300) chunks.push(c)
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end(spec.body)
  })
}

/**
 * `connections` workers, each sending its next request as soon as the last one answered, until
 * `durationS` passed or `next` returns undefined. `onAnswer` sees each answer (e.g. to keep ids).
 */
export async function closedLoop(opts: {
  baseUrl: string
  connections: number
  durationS?: number
  next: (i: number) => HttpRequestSpec | undefined
  onAnswer?: (i: number, status: number, body: string) => void
}): Promise<LoadResult> {
  const base = new URL(opts.baseUrl)
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections })
  const samples: number[] = []
  const statuses: Record<string, number> = {}
  const failureSamples: string[] = []
  let errors = 0
  let counter = 0
  const started = performance.now()
  const deadline = opts.durationS === undefined ? Number.POSITIVE_INFINITY : started + opts.durationS * 1000
  const worker = async () => {
    while (performance.now() < deadline) {
      const i = counter++
      const spec = opts.next(i)
      if (!spec) return
      const t0 = performance.now()
      try {
        const answer = await send(agent, base, spec, opts.onAnswer !== undefined)
        samples.push(performance.now() - t0)
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
        if ((answer.status < 200 || answer.status >= 300) && failureSamples.length < 5)
          failureSamples.push(`${answer.status} ${answer.body.slice(0, 300)}`)
        opts.onAnswer?.(i, answer.status, answer.body)
      } catch (err) {
        errors++
        if (failureSamples.length < 5) failureSamples.push(`error ${(err as Error).message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: opts.connections }, worker))
  const durationS = (performance.now() - started) / 1000
  agent.destroy()
  let non2xx = 0
  for (const [status, n] of Object.entries(statuses)) if (!status.startsWith('2')) non2xx += n
  return {
    requests: samples.length,
    durationS: Math.round(durationS * 100) / 100,
    rps: Math.round(samples.length / durationS),
    connections: opts.connections,
    statuses,
    non2xx,
    errors,
    latencyMs: percentiles(samples),
    ...(failureSamples.length ? { failureSamples } : {}),
  }
}
