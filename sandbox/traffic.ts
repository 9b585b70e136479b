/**
 * What tests need to see and steer on the WeChat-facing routes: a bounded log of received requests
 * (to prove a retry carried the identical body) and injected faults (5xx, slow answers).
 */
import type { MiddlewareHandler } from 'hono'

export interface LoggedRequest {
  at: string
  method: string
  path: string
  body: string
  status?: number
}

export interface FaultSpec {
  /** Matches requests whose path (without query) starts with this. */
  pathPrefix: string
  method?: string
  /** How many matching requests it hits; default 1. */
  times?: number
  /** Answer this status instead of handling the request. */
  status?: number
  body?: unknown
  /** Hold the request this long first (to provoke client time-outs). */
  delayMs?: number
}

const LOG_LIMIT = 2_000

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export class Traffic {
  readonly log: LoggedRequest[] = []
  private faults: Array<FaultSpec & { remaining: number }> = []

  addFault(spec: FaultSpec): void {
    this.faults.push({ ...spec, remaining: spec.times ?? 1 })
  }

  clearFaults(): void {
    this.faults = []
  }

  private takeFault(method: string, path: string): FaultSpec | undefined {
    const fault = this.faults.find(
      (f) =>
        f.remaining > 0 && path.startsWith(f.pathPrefix) && (!f.method || f.method.toUpperCase() === method),
    )
    if (fault) fault.remaining--
    return fault
  }

  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const url = new URL(c.req.url)
      const entry: LoggedRequest = {
        at: new Date().toISOString(),
        method: c.req.method,
        path: url.pathname + url.search,
        body: await c.req.text(),
      }
      this.log.push(entry)
      if (this.log.length > LOG_LIMIT) this.log.shift()
      const fault = this.takeFault(c.req.method, url.pathname)
      if (fault?.delayMs) await sleep(fault.delayMs)
      if (fault?.status) {
        c.res = Response.json(fault.body ?? { code: 'SYSTEM_ERROR', message: 'sandbox injected fault' }, {
          status: fault.status,
        })
      } else {
        await next()
      }
      entry.status = c.res.status
    }
  }
}
