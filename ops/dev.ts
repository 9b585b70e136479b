/**
 * `npm run dev`: the whole local stack on local MariaDB and Redis — migrates the database, starts
 * the WeChat sandbox, the origin and the edge, and stops them all on Ctrl-C / SIGTERM.
 * Secrets for the session are generated here; nothing is read from or written to the repo.
 *
 * `--edge=deno` runs the edge on Deno instead of workerd (wrangler's local simulator, which serves
 * a few hundred requests a second and is no place for load); `--load` raises the rate limits and
 * the merchant grant cap a load run exceeds (variables set in the environment still win).
 * `npm run dev:load` is both: the stack loadtest/README.md's load runs expect.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { migrateDatabase } from '../db/migrate.ts'
import { sandboxEnv, startSandbox } from '../sandbox/server.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const env = (name: string, fallback: string) => process.env[name] || fallback

const DATABASE_URL = env('DATABASE_URL', 'mysql://root@127.0.0.1:3306/points')
const REDIS_URL = env('REDIS_URL', 'redis://127.0.0.1:6379')
const ORIGIN_PORT = env('PORT', '3000')
const EDGE_PORT = env('EDGE_PORT', '8787')
const SANDBOX_PORT = Number(env('SANDBOX_PORT', '8090'))

const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const EDGE_RUNTIME = flag('edge') ?? 'workerd'
if (EDGE_RUNTIME !== 'workerd' && EDGE_RUNTIME !== 'deno') {
  console.error(`dev: --edge must be workerd or deno, not ${EDGE_RUNTIME}`)
  process.exit(2)
}
// One address sends all of a load run's traffic and logs in thousands of users (loadtest/README.md).
const LOAD_LIMITS: Record<string, string> = process.argv.includes('--load')
  ? {
      RATE_LIMIT_IP_MAX: env('RATE_LIMIT_IP_MAX', '1000000000'),
      RATE_LIMIT_LOGIN_MAX: env('RATE_LIMIT_LOGIN_MAX', '1000000000'),
      RATE_LIMIT_WRITE_MAX: env('RATE_LIMIT_WRITE_MAX', '1000000000'),
      GRANT_DAILY_MAX_POINTS: env('GRANT_DAILY_MAX_POINTS', '1000000000000'),
      GIFT_DAILY_MAX_POINTS: env('GIFT_DAILY_MAX_POINTS', '1000000000000'),
    }
  : {}

const log = (line: string) => console.log(`[dev] ${line}`)

/**
 * Generated on the first run and kept in .dev/ (git-ignored), so the local database's encrypted
 * phone numbers and issued tokens survive a restart. Never used outside `npm run dev`.
 */
function devSecrets(): { jwtSecret: string; phoneKey: string } {
  const file = join(ROOT, '.dev', 'secrets.json')
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'))
  const fresh = { jwtSecret: randomBytes(32).toString('hex'), phoneKey: randomBytes(32).toString('base64') }
  mkdirSync(join(ROOT, '.dev'), { recursive: true })
  writeFileSync(file, JSON.stringify(fresh), { mode: 0o600 })
  return fresh
}
const children: ChildProcess[] = []

function run(name: string, args: string[], childEnv: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...childEnv },
    stdio: 'inherit',
  })
  child.on('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping the stack`)
      void stop(1)
    }
  })
  children.push(child)
  return child
}

let stopping = false
let closeSandbox: () => Promise<void> = async () => {}
async function stop(code: number) {
  if (stopping) return
  stopping = true
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve()
          c.once('exit', () => resolve())
          c.kill('SIGTERM')
        }),
    ),
  )
  await closeSandbox()
  process.exit(code)
}
process.once('SIGINT', () => void stop(0))
process.once('SIGTERM', () => void stop(0))

log(`migrating ${DATABASE_URL.replace(/\/\/[^@]*@/, '//***@')}`)
await migrateDatabase(DATABASE_URL, log)
const sandbox = await startSandbox({ port: SANDBOX_PORT, retryTimeScale: 0.01, refundAutoCompleteMs: 1000 })
closeSandbox = sandbox.close
log(`WeChat sandbox on ${sandbox.url}`)

const secrets = devSecrets()
const jwtSecret = process.env.JWT_SECRET || secrets.jwtSecret
const edgeKeyId = 'dev'
const edgeSecret = randomBytes(32).toString('hex')
const originUrl = `http://127.0.0.1:${ORIGIN_PORT}`

run('origin', ['--import', 'tsx', 'origin/main.ts'], {
  DATABASE_URL,
  REDIS_URL,
  PORT: ORIGIN_PORT,
  JWT_SECRET: jwtSecret,
  EDGE_SIGNING_KEYS: `${edgeKeyId}:${edgeSecret}`,
  ADMIN_OPENIDS: env('ADMIN_OPENIDS', 'admin'),
  PHONE_ENCRYPTION_KEYS: env('PHONE_ENCRYPTION_KEYS', `dev:${secrets.phoneKey}`),
  PUBLIC_BASE_URL: env('PUBLIC_BASE_URL', originUrl),
  // No load balancer to drain from: Ctrl-C stops at once.
  SHUTDOWN_DRAIN_MS: env('SHUTDOWN_DRAIN_MS', '0'),
  ...sandboxEnv(sandbox),
  // A platform for many shops runs in partner mode (API.md §11); the sandbox takes any sub-merchant
  // id, so approval gives each merchant one and the stack is usable end to end without an admin call.
  WECHAT_PAY_MODE: env('WECHAT_PAY_MODE', 'partner'),
  DEV_ASSIGN_SUB_MCHID: 'true',
  // The sandbox takes any template id, so the outbox's messages are sent (and visible at
  // GET /sandbox/subscribe-messages) in a dev run too.
  WECHAT_TEMPLATE_POINTS_EARNED: env('WECHAT_TEMPLATE_POINTS_EARNED', 'dev-points-earned'),
  WECHAT_TEMPLATE_GIFT_CLAIMED: env('WECHAT_TEMPLATE_GIFT_CLAIMED', 'dev-gift-claimed'),
  WECHAT_TEMPLATE_POINTS_EXPIRING: env('WECHAT_TEMPLATE_POINTS_EXPIRING', 'dev-points-expiring'),
  ...LOAD_LIMITS,
})
log(
  `origin on ${originUrl} (admin openid: ${env('ADMIN_OPENIDS', 'admin')}; log in with code "code-<openid>")`,
)

run('edge', ['--import', 'tsx', 'ops/start-edge.ts', `--runtime=${EDGE_RUNTIME}`], {
  ORIGIN_URL: originUrl,
  REDIS_URL,
  JWT_SECRET: jwtSecret,
  EDGE_SIGNING_KEY_ID: edgeKeyId,
  EDGE_SIGNING_SECRET: edgeSecret,
  EDGE_PORT,
  ...LOAD_LIMITS,
  // The sandbox accepts any "code-<openid>", so the console may offer "approve as <openid>".
  CONSOLE_DEV_LOGIN: 'true',
})
log(
  `edge (${EDGE_RUNTIME}) on http://127.0.0.1:${EDGE_PORT} — the mini-program talks to this one` +
    (process.argv.includes('--load') ? '; rate limits raised for load runs' : ''),
)
log(
  `console on http://127.0.0.1:${EDGE_PORT}/console/ (approve as "admin" to operate, or a merchant owner's openid)`,
)
