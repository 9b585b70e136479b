/**
 * The sandbox as a process (`tsx sandbox/main.ts`): prints one JSON line `{url, env}` where env is
 * the origin's WECHAT_* configuration, then serves until SIGTERM/SIGINT.
 */
import { sandboxEnv, startSandbox } from './server.ts'

const DEFAULT_PORT = 8090

function numberFromEnv(name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) {
    console.error(`sandbox: ${name} must be a non-negative number, got "${raw}"`)
    process.exit(1)
  }
  return value
}

const sandbox = await startSandbox({
  port: numberFromEnv('SANDBOX_PORT') ?? DEFAULT_PORT,
  host: process.env.SANDBOX_HOST || '127.0.0.1',
  retryTimeScale: numberFromEnv('SANDBOX_RETRY_TIME_SCALE'),
  refundAutoCompleteMs: numberFromEnv('SANDBOX_REFUND_AUTO_COMPLETE_MS'),
})
console.log(JSON.stringify({ url: sandbox.url, env: sandboxEnv(sandbox) }))

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return
    stopping = true
    void sandbox.close().then(() => process.exit(0))
  })
}
