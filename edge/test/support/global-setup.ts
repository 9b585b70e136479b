import { execFileSync } from 'node:child_process'
import type { TestProject } from 'vitest/node'
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
  // Both runtimes serve the console from dist/assets/, and wrangler wants the folder to exist. A
  // child process, so esbuild's service does not outlive the build inside vitest's own process.
  execFileSync(process.execPath, ['--import', 'tsx', 'ops/build-console.ts'], { stdio: 'inherit' })
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
