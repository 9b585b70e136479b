import type { CacheStore } from './cache/store.ts'
import type { EdgeConfig } from './config.ts'
import type { EdgeMetrics } from './observability/metrics.ts'
import type { RequestSink } from './observability/record.ts'
import type { RateLimiter } from './rate-limit/limiter.ts'

export interface EdgeUser {
  id: string
}

/** Everything the edge touches outside itself, injected so each runtime (and each test) wires its own. */
export interface EdgeDeps {
  config: EdgeConfig
  rateLimiter: RateLimiter
  cache: CacheStore
  fetchOrigin: (request: Request) => Promise<Response>
  /** Milliseconds since the epoch. */
  now: () => number
  /** The runtime decides where the caller's address comes from (CF-Connecting-IP, the socket, …). */
  clientIp: (request: Request, env: object | undefined) => string | undefined
  /** The web console's files (edge/console.ts); without them the edge serves no console. */
  consoleFiles?: ConsoleFiles
  /** Per-request log line and counters (edge/observability); the JSON log alone when absent. */
  observability?: EdgeObservability
}

export interface EdgeEnv {
  Bindings: object | undefined
  Variables: {
    requestId: string
    /** The request's raw path and query, checked canonical: the one path every decision uses. */
    target: RequestTarget
    body: Uint8Array<ArrayBuffer>
    clientIp: string
    /** Read with the rate limit for cacheable merchant pages; undefined when it could not be read. */
    pageVersion: string | undefined
    user: EdgeUser | undefined
    // Left by the cache, rate-limit and origin steps for edge/observability's request record.
    cacheResult: 'hit' | 'miss' | undefined
    rateLimit: 'allowed' | 'limited' | undefined
    originTiming: { ms: number; failed: boolean } | undefined
  }
}

export interface RequestTarget {
  /** Starts with `/`; exactly what the client sent. */
  path: string
  /** `?…` or empty; exactly what the client sent. */
  query: string
}

/** How a runtime observes requests; each entry (deno.ts, worker.ts) and each test wires its own. */
export interface EdgeObservability {
  /** Counters this process keeps and serves at /metrics (Deno, when METRICS_TOKEN is set). */
  metrics?: EdgeMetrics
  /** Other destinations of each request's record (Analytics Engine on Workers). */
  sinks?: RequestSink[]
  /** Where the JSON line goes; stdout on Deno, Workers Logs on Cloudflare. */
  log?: (line: string) => void
  /** Milliseconds, monotonic; only differences are used. */
  clock?: () => number
}

/** Answers a request for one of the console's static files (workerd: the ASSETS binding; Deno: dist/assets). */
export type ConsoleFiles = (request: Request, env: object | undefined) => Promise<Response>
