/**
 * A network partition rather than a refused connection: the proxies between the origin and
 * MariaDB / Redis stop forwarding bytes without closing anything (packets silently lost), the way
 * a dead switch or a frozen VM looks. API.md §1 promises 503 ORIGIN_UNAVAILABLE when a backing
 * service is unavailable; a request must not hang (the edge, the mini-program and the load balancer
 * would time out with nothing to show and retry blind), and the DB pool must not be exhausted by
 * requests stuck forever. When the partition heals, everything must proceed and nothing doubles.
 *
 * Finding 3 in docs/RELIABILITY.md: expected to fail until the origin bounds its waits on MySQL and
 * Redis.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApiClient, ApiResponse } from '../harness/client.ts'
import { idemKey, userWithPoints } from '../harness/fixtures.ts'
import { HOLDS, invariants, type Stack } from '../harness/stack.ts'
import {
  auditBusinessAgainstLedger,
  type ProxiedStack,
  sleep,
  startProxiedStack,
  type TcpProxy,
  waitUntil,
} from './support.ts'

/** How long a request may take to be refused while a dependency is partitioned away. */
const ANSWER_WITHIN_MS = 10_000

let proxied: ProxiedStack
let stack: Stack
let dbProxy: TcpProxy
let redisProxy: TcpProxy
let api: ApiClient

beforeAll(async () => {
  proxied = await startProxiedStack({ mysql: true, redis: true })
  ;({ stack, api } = proxied)
  dbProxy = proxied.mysql!
  redisProxy = proxied.redis!
}, 60_000)

afterAll(async () => {
  await proxied?.close()
})

const ready = async () => (await proxied.ready()).status

/** The answer, or null if none came within `ms` (the request is left running). */
async function within(ms: number, call: Promise<ApiResponse>): Promise<ApiResponse | null> {
  return Promise.race([call, sleep(ms).then(() => null)])
}

describe.sequential('network partition between the origin and its backing services', () => {
  for (const which of ['MariaDB', 'Redis'] as const) {
    it(`answers 503 within ${ANSWER_WITHIN_MS / 1000} s while ${which} is partitioned away, then recovers`, async () => {
      const proxy = which === 'MariaDB' ? dbProxy : redisProxy
      const alice = await userWithPoints(api, 100)
      const key = idemKey()
      proxy.stall()
      const started = Date.now()
      const [readiness, read, write] = await Promise.all([
        ready(),
        within(ANSWER_WITHIN_MS, api.get('/api/points/balance', { token: alice.token })),
        within(
          ANSWER_WITHIN_MS,
          api.post('/api/points/gifts', { points: 10 }, { token: alice.token, idempotencyKey: key }),
        ),
      ])
      const waited = Date.now() - started
      proxy.unstall()
      await waitUntil('/ready after the partition heals', async () => (await ready()) === 200, 20_000, 200)

      // Whatever the write did during the partition, retrying it with its key now makes one gift.
      const retried = await api.post(
        '/api/points/gifts',
        { points: 10 },
        { token: alice.token, idempotencyKey: key },
      )
      expect(retried.status).toBe(201)
      expect((await api.get('/api/points/balance', { token: alice.token })).body).toMatchObject({
        balance: 90,
        heldInGifts: 10,
      })
      expect(await invariants(stack)).toEqual(HOLDS)
      expect(await auditBusinessAgainstLedger(stack)).toEqual([])

      expect(readiness).toBe(503)
      const answers = {
        read: read?.status ?? `none within ${waited} ms`,
        write: write?.status ?? `none within ${waited} ms`,
      }
      expect(answers).toEqual({ read: 503, write: 503 })
      expect(read?.body.error.code).toBe('ORIGIN_UNAVAILABLE')
    }, 60_000)
  }
})
