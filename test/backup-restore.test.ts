/**
 * ops/backup.sh and ops/restore.sh on the real MariaDB: a restore brings back the ledger exactly as
 * it was when the backup ran, a backup taken under concurrent writes is consistent, old backups are
 * pruned, and a non-empty target is refused.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase, type Database, selectRows } from '../origin/db/client.ts'
import { checkLedgerInvariants } from '../origin/services/ledger.ts'
import { apiClient } from './harness/client.ts'
import { idemKey, userWithPoints } from './harness/fixtures.ts'
import { HOLDS, MYSQL_SERVER, type Stack, startStack } from './harness/stack.ts'

const ROOT = join(import.meta.dirname, '..')
const run = promisify(execFile)
let stack: Stack
let api: ReturnType<typeof apiClient>
const backupDir = mkdtempSync(join(tmpdir(), 'backups-'))
const restored: Array<{ name: string; db: Database }> = []

const backup = async (keep = 5) =>
  (
    await run('bash', [join(ROOT, 'ops/backup.sh')], {
      env: {
        ...process.env,
        DATABASE_URL: stack.databaseUrl,
        BACKUP_DIR: backupDir,
        BACKUP_KEEP: String(keep),
      },
    })
  ).stdout.trim()

async function restore(file: string) {
  const url = `${MYSQL_SERVER}/points_r_${randomBytes(5).toString('hex')}`
  const { stdout } = await run('bash', [join(ROOT, 'ops/restore.sh'), file], {
    env: { ...process.env, DATABASE_URL: url },
  })
  const db = createDatabase({ url, poolSize: 2 })
  restored.push({ name: url.split('/').pop()!, db })
  return { url, db, stdout }
}

async function balances(db: Database): Promise<Record<string, number>> {
  const rows = await selectRows<{ owner: number; balance: number }>(
    db.primary,
    sql`SELECT owner_id AS owner, balance FROM accounts WHERE kind = 'USER' ORDER BY owner_id`,
  )
  return Object.fromEntries(rows.map((r) => [String(r.owner), Number(r.balance)]))
}

beforeAll(async () => {
  stack = await startStack()
  api = apiClient(stack.origin.url)
})
afterAll(async () => {
  for (const { name, db } of restored) {
    await db.primary.execute(`DROP DATABASE IF EXISTS \`${name}\``)
    await db.close()
  }
  rmSync(backupDir, { recursive: true, force: true })
  await stack?.close()
})

describe('backup and restore', () => {
  it('restores the ledger and balances as of the backup into an empty database', async () => {
    const a = await userWithPoints(api, 500)
    const b = await userWithPoints(api, 300, a.merchant)
    expect(
      (await api.post('/api/points/gifts', { points: 120 }, { token: a.token, idempotencyKey: idemKey() }))
        .status,
    ).toBe(201)
    const atBackup = await balances(stack.db)
    const file = await backup()
    expect(file).toMatch(/\/points_t_[0-9a-f]{10}-\d{8}T\d{9}Z\.sql\.gz$/)
    // Written after the backup: must not be in the restore.
    expect(
      (await api.post('/api/points/gifts', { points: 7 }, { token: b.token, idempotencyKey: idemKey() }))
        .status,
    ).toBe(201)
    expect(await balances(stack.db)).not.toEqual(atBackup)

    const { db, stdout } = await restore(file)
    expect(stdout).toContain('sum of all entries: 0')
    expect(await balances(db)).toEqual(atBackup)
    expect(await checkLedgerInvariants(db.primary)).toEqual(HOLDS)
  })

  it('takes a consistent backup while 40 writes run concurrently', async () => {
    const users = await Promise.all(Array.from({ length: 4 }, () => userWithPoints(api, 1000)))
    const writes = users.flatMap((u) =>
      Array.from({ length: 10 }, () =>
        api.post('/api/points/gifts', { points: 3 }, { token: u.token, idempotencyKey: idemKey() }),
      ),
    )
    const file = await backup()
    expect((await Promise.all(writes)).map((r) => r.status)).toEqual(Array(40).fill(201))
    const { db } = await restore(file)
    expect(await checkLedgerInvariants(db.primary)).toEqual(HOLDS)
  })

  it('keeps only the newest BACKUP_KEEP backups and refuses to restore over data', async () => {
    const files = [await backup(2), await backup(2), await backup(2)]
    expect(readdirSync(backupDir).sort()).toEqual(files.slice(1).map((f) => f.split('/').pop()))
    const target = await run('bash', [join(ROOT, 'ops/restore.sh'), files[2]!], {
      env: { ...process.env, DATABASE_URL: stack.databaseUrl },
    }).catch((err: { code: number; stderr: string }) => err)
    expect(target).toMatchObject({ code: 2 })
    expect((target as { stderr: string }).stderr).toContain('is not empty')
  })
})
