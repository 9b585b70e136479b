/**
 * One Analytics Engine data point per request on Cloudflare (binding EDGE_METRICS in wrangler.toml).
 * Column layout, which queries and docs/OPERATIONS.md rely on — append, never reorder:
 *   index1 = route
 *   blob1 = route, blob2 = method, blob3 = status, blob4 = cache, blob5 = limiter, blob6 = request id
 *   double1 = status, double2 = duration ms, double3 = origin ms (-1: origin not asked),
 *   double4 = 1 if the origin failed
 * Limits: 20 blobs, 20 doubles, 1 index of ≤ 96 bytes, 250 data points per invocation.
 */
import type { RequestRecord, RequestSink } from './record.ts'

/** The part of workerd's AnalyticsEngineDataset binding the edge uses. */
export interface AnalyticsEngineDataset {
  writeDataPoint(point: { indexes?: string[]; blobs?: string[]; doubles?: number[] }): void
}

const MAX_INDEX_BYTES = 96

export const METRICS_BINDING = 'EDGE_METRICS'

function isDataset(value: unknown): value is AnalyticsEngineDataset {
  return typeof (value as AnalyticsEngineDataset | undefined)?.writeDataPoint === 'function'
}

export class AnalyticsEngineSink implements RequestSink {
  constructor(private readonly dataset: AnalyticsEngineDataset) {}

  /** The sink for the worker's bindings, or none when EDGE_METRICS is not bound. */
  static fromBindings(env: Record<string, unknown>): AnalyticsEngineSink | undefined {
    const binding = env[METRICS_BINDING]
    return isDataset(binding) ? new AnalyticsEngineSink(binding) : undefined
  }

  record(entry: RequestRecord): void {
    // Route templates are ASCII, so characters are bytes.
    const route = entry.route.slice(0, MAX_INDEX_BYTES)
    this.dataset.writeDataPoint({
      indexes: [route],
      blobs: [route, entry.method, String(entry.status), entry.cache, entry.limiter, entry.requestId],
      doubles: [entry.status, entry.durationMs, entry.originMs ?? -1, entry.originFailed ? 1 : 0],
    })
  }
}
