/**
 * The WeChat sandbox as docker-compose's `dev` profile runs it. Same server as
 * `npm run start:sandbox`, plus a hand-off: the sandbox generates its keys at start, so it
 * publishes the origin's WECHAT_* settings into a volume shared with the origin container, one file
 * per variable, then a `ready` marker that ops/docker/entrypoint.sh waits for.
 *
 * Env: SANDBOX_ENV_DIR (where to write, /run/wechat-sandbox), SANDBOX_PUBLIC_URL (how the origin
 * reaches this container, e.g. http://sandbox:8090), SANDBOX_PORT (8090),
 * SANDBOX_RETRY_TIME_SCALE, SANDBOX_REFUND_AUTO_COMPLETE_MS.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sandboxEnv, startSandbox } from '../../sandbox/server.ts'

function numberFromEnv(name: string, fallback?: number): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0) {
    console.error(`sandbox: ${name} must be a non-negative number, got "${raw}"`)
    process.exit(1)
  }
  return value
}

const dir = process.env.SANDBOX_ENV_DIR || '/run/wechat-sandbox'
const publicUrl = (process.env.SANDBOX_PUBLIC_URL || '').replace(/\/+$/, '')
if (!/^https?:\/\/[^/]+$/.test(publicUrl)) {
  console.error('sandbox: SANDBOX_PUBLIC_URL must be the URL the origin reaches this sandbox at')
  process.exit(1)
}

// The previous run's keys are dead once this process generates new ones: withdraw the marker
// before anything else, so an origin starting now waits for these keys instead.
mkdirSync(dir, { recursive: true })
const marker = join(dir, 'ready')
rmSync(marker, { force: true })

const sandbox = await startSandbox({
  port: numberFromEnv('SANDBOX_PORT', 8090),
  host: '0.0.0.0',
  retryTimeScale: numberFromEnv('SANDBOX_RETRY_TIME_SCALE'),
  refundAutoCompleteMs: numberFromEnv('SANDBOX_REFUND_AUTO_COMPLETE_MS'),
})

// The sandbox reports its bind address (0.0.0.0); the origin needs the compose service name.
const env = { ...sandboxEnv(sandbox), WECHAT_PAY_BASE_URL: publicUrl, WECHAT_API_BASE_URL: publicUrl }
for (const [name, value] of Object.entries(env)) {
  // Write then rename, so a reader never sees half a key.
  const tmp = join(dir, `.${name}.tmp`)
  writeFileSync(tmp, value, { mode: 0o600 })
  renameSync(tmp, join(dir, name))
}
writeFileSync(marker, `${new Date().toISOString()}\n`)
console.log(JSON.stringify({ url: publicUrl, published: Object.keys(env), dir }))

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return
    stopping = true
    rmSync(marker, { force: true })
    void sandbox.close().then(() => process.exit(0))
  })
}
