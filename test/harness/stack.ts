/**
 * A whole stack for one test file: a fresh MariaDB database (migrated), the WeChat sandbox, and
 * the real origin over HTTP on real Redis. Every file gets its own database, so files run in
 * parallel without seeing each other's rows.
 */
import { randomBytes } from 'node:crypto'
import { migrateDatabase } from '../../db/migrate.ts'
import { createDatabase, type Database } from '../../origin/db/client.ts'
import { checkLedgerInvariants } from '../../origin/services/ledger.ts'
import { type StartedSandbox, sandboxEnv, startSandbox } from '../../sandbox/server.ts'
import { type OriginProcess, startOriginProcess } from './origin-process.ts'
import { freePort } from './ports.ts'

export const MYSQL_SERVER = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
export const EDGE_KEY_ID = 'k1'
export const EDGE_SECRET = `edge-secret-${randomBytes(12).toString('hex')}`
export const JWT_SECRET = `jwt-secret-${randomBytes(24).toString('hex')}`
export const ADMIN_OPENID = 'admin-openid'

export interface Stack {
  databaseUrl: string
  env: Record<string, string>
  origin: OriginProcess
  sandbox: StartedSandbox
  db: Database
  restartOrigin(extraEnv?: Record<string, string>): Promise<void>
  close(): Promise<void>
}

/** The origin's environment for one test database and sandbox; the in-process harness uses it too. */
export function stackEnv(
  databaseUrl: string,
  sandbox: StartedSandbox,
  publicBaseUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    JWT_SECRET,
    EDGE_SIGNING_KEYS: `${EDGE_KEY_ID}:${EDGE_SECRET}`,
    ADMIN_OPENIDS: ADMIN_OPENID,
    PHONE_ENCRYPTION_KEYS: `p1:${randomBytes(32).toString('base64')}`,
    PUBLIC_BASE_URL: publicBaseUrl,
    LOG_LEVEL: 'warn',
    JOB_INTERVAL_MS: '200',
    // Scenarios (limits, sims, the load scripts' setup) grant far more in a day than a merchant may;
    // the cap itself is tested with its own low value (test/security/suspension-and-grants.test.ts).
    GRANT_DAILY_MAX_POINTS: '1000000000000',
    // Likewise for what one user gifts in a day; test/gift-limits.test.ts tests the cap.
    GIFT_DAILY_MAX_POINTS: '1000000000000',
    ...sandboxEnv(sandbox),
    ...extra,
  }
}

export async function startStack(
  opts: { env?: Record<string, string>; sandboxRetryTimeScale?: number } = {},
): Promise<Stack> {
  const databaseUrl = `${MYSQL_SERVER}/points_t_${randomBytes(5).toString('hex')}`
  await migrateDatabase(databaseUrl)
  const sandbox = await startSandbox({ retryTimeScale: opts.sandboxRetryTimeScale ?? 0.001 })
  const port = await freePort()
  const env = stackEnv(databaseUrl, sandbox, `http://127.0.0.1:${port}`, opts.env)
  const stack: Stack = {
    databaseUrl,
    env,
    sandbox,
    origin: await startOriginProcess(env, port),
    db: createDatabase({ url: databaseUrl, poolSize: 4 }),
    async restartOrigin(extraEnv = {}) {
      await stack.origin.stop()
      stack.origin = await startOriginProcess({ ...env, ...extraEnv }, port)
    },
    async close() {
      await stack.origin.stop()
      await sandbox.close()
      await stack.db.primary.execute(`DROP DATABASE IF EXISTS \`${databaseUrl.split('/').pop()}\``)
      await stack.db.close()
    },
  }
  return stack
}

/** The global ledger invariants; every scenario ends by asserting this is all zeros. */
export function invariants(stack: Stack) {
  return checkLedgerInvariants(stack.db.primary)
}

export const HOLDS = {
  sumOfAllEntries: 0,
  usersWhoseTotalEarnedDiffers: 0,
  usersWhoseBalanceDiffersFromEntries: 0,
  brokenChains: 0,
  transfersNotBalanced: 0,
  usersWhoseLotsDifferFromBalance: 0,
  malformedLots: 0,
}
