import type { CacheStore } from './cache/store.ts'
import type { EdgeConfig } from './config.ts'
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
}

export interface EdgeEnv {
  Bindings: object | undefined
  Variables: {
    requestId: string
    body: Uint8Array<ArrayBuffer>
    clientIp: string
    user: EdgeUser | undefined
  }
}
