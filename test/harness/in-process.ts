/**
 * The origin app in this process: createOriginApp(deps) on real MariaDB (a fresh migrated
 * database), real Redis and the WeChat sandbox, with no child process and no socket. Requests are
 * signed as the edge signs them and handed to app.request, so a route test costs milliseconds.
 */
import { randomBytes } from 'node:crypto'
import { migrateDatabase } from '../../db/migrate.ts'
import { createOriginApp } from '../../origin/app.ts'
import { loadConfig } from '../../origin/config.ts'
import { createDeps } from '../../origin/deps.ts'
import type { OriginDeps } from '../../origin/http/context.ts'
import { checkLedgerInvariants } from '../../origin/services/ledger.ts'
import { startSandbox } from '../../sandbox/server.ts'
import { type ApiClient, apiClient } from './client.ts'
import { MYSQL_SERVER, stackEnv } from './stack.ts'

const BASE_URL = 'http://origin.test'

export interface InProcessOrigin {
  api: ApiClient
  deps: OriginDeps
  invariants(): ReturnType<typeof checkLedgerInvariants>
  close(): Promise<void>
}

export async function startInProcessOrigin(env: Record<string, string> = {}): Promise<InProcessOrigin> {
  const databaseUrl = `${MYSQL_SERVER}/points_t_${randomBytes(5).toString('hex')}`
  await migrateDatabase(databaseUrl)
  const sandbox = await startSandbox({ retryTimeScale: 0.001 })
  const deps = createDeps(loadConfig(stackEnv(databaseUrl, sandbox, BASE_URL, env)))
  // The origin refuses commands while Redis is still connecting (no offline queue), as in production.
  if (deps.redis.status !== 'ready') await new Promise((resolve) => deps.redis.once('ready', resolve))
  const app = createOriginApp(deps)
  return {
    api: apiClient(BASE_URL, async (url, init) => app.request(url, init)),
    deps,
    invariants: () => checkLedgerInvariants(deps.db.primary),
    async close() {
      await deps.db.primary.execute(`DROP DATABASE IF EXISTS \`${databaseUrl.split('/').pop()}\``)
      await deps.db.close()
      deps.redis.disconnect()
      await sandbox.close()
    },
  }
}
