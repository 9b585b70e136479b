/**
 * Delivering notifications to the origin the way WeChat does: POST, wait for a 2xx within 5 s,
 * otherwise retry on WeChat's schedule (WECHAT.md §2.5), compressed by `retryTimeScale` so tests
 * and dev runs do not wait hours.
 */
import { type NotificationKeys, signNotification } from './notifications.ts'
import type { DeliveryRecord } from './store.ts'

/** Delays before retries 1..15, in seconds (WECHAT.md §2.5). */
export const WECHAT_RETRY_DELAYS_SECONDS = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
]
const ATTEMPT_TIMEOUT_MS = 5_000

export interface Deliverer {
  /** Resolves after the first attempt; retries continue in the background until 2xx or the schedule ends. */
  deliver(url: string, body: string, record: DeliveryRecord): Promise<void>
  close(): void
}

export function createDeliverer(keys: NotificationKeys, retryTimeScale: number): Deliverer {
  const timers = new Set<NodeJS.Timeout>()
  const inFlight = new Set<AbortController>()
  let closed = false

  async function attempt(url: string, body: string, record: DeliveryRecord): Promise<boolean> {
    const controller = new AbortController()
    inFlight.add(controller)
    const timeout = setTimeout(() => controller.abort(), ATTEMPT_TIMEOUT_MS)
    const at = new Date().toISOString()
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: signNotification(body, keys),
        body,
        signal: controller.signal,
      })
      await res.arrayBuffer()
      record.attempts.push({ at, status: res.status })
      return res.ok
    } catch (err) {
      record.attempts.push({ at, error: err instanceof Error ? err.message : String(err) })
      return false
    } finally {
      clearTimeout(timeout)
      inFlight.delete(controller)
    }
  }

  async function run(url: string, body: string, record: DeliveryRecord, retryNo: number): Promise<void> {
    if (closed) return
    if (await attempt(url, body, record)) {
      record.delivered = true
      return
    }
    const delaySeconds = WECHAT_RETRY_DELAYS_SECONDS[retryNo]
    if (delaySeconds === undefined || closed) {
      record.gaveUp = true
      return
    }
    const timer = setTimeout(
      () => {
        timers.delete(timer)
        void run(url, body, record, retryNo + 1)
      },
      delaySeconds * 1000 * retryTimeScale,
    )
    timers.add(timer)
  }

  return {
    deliver: (url, body, record) => run(url, body, record, 0),
    close() {
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const controller of inFlight) controller.abort()
    },
  }
}
