/**
 * The real origin, WeChat sandbox, MariaDB and Redis for edge tests that go end to end, with an
 * Upstash bridge of their own on a separate Redis database: these edges' rate-limit counters (all
 * Deno callers are 127.0.0.1) must not eat into the limits the contract tests count exactly. The
 * origin uses that database too.
 */
import { randomUUID } from 'node:crypto'
import { startBridge } from '../../../ops/upstash-bridge.ts'
import { REDIS_URL, type Stack, startStack } from '../../../test/harness/stack.ts'
import { edgeEnv, JWT_SECRET, SIGNING_KEY_ID, SIGNING_SECRET } from './harness.ts'

export interface RealStack {
  stack: Stack
  /** Edge settings for this origin and bridge, with the rate limits raised out of the way. */
  edgeEnv(overrides?: Record<string, string>): Record<string, string>
  close(): Promise<void>
}

export async function startRealStack(redisDb: number): Promise<RealStack> {
  // The origin and the edge share that database, as in production they share one Redis: the origin
  // bumps merchant page versions there and the edge reads them into its cache keys.
  const redisUrl = `${REDIS_URL}/${redisDb}`
  const stack = await startStack({
    env: { JWT_SECRET, EDGE_SIGNING_KEYS: `${SIGNING_KEY_ID}:${SIGNING_SECRET}`, REDIS_URL: redisUrl },
  })
  const token = `bridge-${randomUUID()}`
  const bridge = await startBridge({ port: 0, token, redisUrl })
  return {
    stack,
    edgeEnv: (overrides = {}) =>
      edgeEnv(stack.origin.url, {
        UPSTASH_REDIS_REST_URL: bridge.url,
        UPSTASH_REDIS_REST_TOKEN: token,
        RATE_LIMIT_LOGIN_MAX: '100000',
        RATE_LIMIT_WRITE_MAX: '100000',
        RATE_LIMIT_IP_MAX: '100000',
        ...overrides,
      }),
    async close() {
      await bridge.close()
      await stack.close()
    },
  }
}
