import type { TestProject } from 'vitest/node'
import { buildConsole } from '../../../ops/build-console.ts'
import { startBridge } from '../../../ops/upstash-bridge.ts'
import { startRedisServer } from './redis-server.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    upstashUrl: string
    upstashToken: string
  }
}

/** One Redis and one Upstash bridge for the whole edge run; each test file starts its own edges. */
export default async function setup(project: TestProject) {
  // Both runtimes serve the console from dist/assets/, and wrangler wants the folder to exist.
  await buildConsole()
  const redis = await startRedisServer()
  const token = `test-${crypto.randomUUID()}`
  const bridge = await startBridge({ port: 0, token, redisUrl: redis.url })
  project.provide('upstashUrl', bridge.url)
  project.provide('upstashToken', token)
  return async () => {
    await bridge.close()
    await redis.close()
  }
}
