/**
 * An upgraded database: balances written before migration 0007 get one lot each (expiring one
 * default TTL after the migration), so balance = Σ open lots − debt holds from the first start.
 */
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { drizzle } from 'drizzle-orm/mysql2'
import { migrate } from 'drizzle-orm/mysql2/migrator'
import mysql from 'mysql2/promise'
import { afterAll, expect, it } from 'vitest'
import { migrateDatabase } from '../../db/migrate.ts'
import { HOLDS, MYSQL_SERVER } from '../../test/harness/stack.ts'
import { createDatabase } from '../db/client.ts'
import { checkLedgerInvariants } from './ledger.ts'

const MIGRATIONS = fileURLToPath(new URL('../../db/migrations', import.meta.url))
const name = `points_upgrade_${randomBytes(5).toString('hex')}`
const url = `${MYSQL_SERVER}/${name}`
const before = mkdtempSync(join(tmpdir(), 'migrations-0006-'))

afterAll(async () => {
  rmSync(before, { recursive: true, force: true })
  const conn = await mysql.createConnection({ uri: MYSQL_SERVER })
  await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
  await conn.end()
})

/** A user credited `points` by a grant (and clawed back `clawed`), written as the old ledger did. */
async function oldBalance(conn: mysql.Connection, tag: string, points: number, clawed: number) {
  const now = new Date()
  const [u] = (await conn.query('INSERT INTO users (openid, created_at, updated_at) VALUES (?, ?, ?)', [
    tag,
    now,
    now,
  ])) as unknown as [mysql.ResultSetHeader]
  const [m] = (await conn.query(
    `INSERT INTO merchants (owner_user_id, name, contact_phone, status, earn_points, per_fen, min_order_fen, created_at, updated_at)
     VALUES (?, ?, 'x', 'ACTIVE', 1, 100, 0, ?, ?)`,
    [u.insertId, tag, now, now],
  )) as unknown as [mysql.ResultSetHeader]
  const [iss] = (await conn.query(
    "INSERT INTO accounts (kind, owner_id, created_at) VALUES ('MERCHANT_ISSUANCE', ?, ?)",
    [m.insertId, now],
  )) as unknown as [mysql.ResultSetHeader]
  const [acct] = (await conn.query(
    "INSERT INTO accounts (kind, owner_id, balance, last_seq, total_earned, created_at) VALUES ('USER', ?, ?, ?, ?, ?)",
    [u.insertId, points - clawed, clawed > 0 ? 2 : 1, points - clawed, now],
  )) as unknown as [mysql.ResultSetHeader]
  const moves: Array<[string, number, number, number, number]> = [
    ['MERCHANT_GRANT', iss.insertId, acct.insertId, points, points],
  ]
  if (clawed > 0) moves.push(['REFUND_CLAWBACK', acct.insertId, iss.insertId, clawed, points - clawed])
  for (const [i, [kind, debit, credit, amount, after]] of moves.entries()) {
    const [t] = (await conn.query(
      `INSERT INTO transfers (business_key, kind, debit_account_id, credit_account_id, points, merchant_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [`${tag}:${i}`, kind, debit, credit, amount, m.insertId, now],
    )) as unknown as [mysql.ResultSetHeader]
    const userIsCredit = credit === acct.insertId
    await conn.query(
      `INSERT INTO ledger_entries (account_id, transfer_id, seq, delta, balance_after, kind, merchant_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        acct.insertId,
        t.insertId,
        i + 1,
        userIsCredit ? amount : -amount,
        after,
        kind,
        m.insertId,
        now,
        iss.insertId,
        t.insertId,
        null,
        userIsCredit ? -amount : amount,
        null,
        kind,
        m.insertId,
        now,
      ],
    )
  }
  return acct.insertId
}

it('gives each positive balance of an upgraded database one lot, and debts none', async () => {
  cpSync(MIGRATIONS, before, { recursive: true })
  const journalFile = join(before, 'meta', '_journal.json')
  const journal = JSON.parse(readFileSync(journalFile, 'utf8'))
  journal.entries = journal.entries.filter((e: { tag: string }) => e.tag < '0007')
  writeFileSync(journalFile, JSON.stringify(journal))
  const admin = await mysql.createConnection({ uri: MYSQL_SERVER })
  await admin.query(`CREATE DATABASE \`${name}\``)
  await admin.end()
  const conn = await mysql.createConnection({ uri: url, timezone: 'Z' })
  try {
    await migrate(drizzle(conn), { migrationsFolder: before })
    const rich = await oldBalance(conn, 'rich', 80, 0)
    await oldBalance(conn, 'indebted', 10, 25)
    const migratedFrom = Date.now()
    await migrateDatabase(url)
    const [lots] = await conn.query(
      'SELECT account_id AS accountId, points, remaining, expires_at AS expiresAt, source_transfer_id AS source FROM point_lots',
    )
    const rows = lots as Array<{
      accountId: number
      points: number
      remaining: number
      expiresAt: Date
      source: null
    }>
    expect(rows.map((r) => [r.accountId, r.points, r.remaining, r.source])).toEqual([[rich, 80, 80, null]])
    const yearMs = 31_536_000_000
    expect(rows[0]!.expiresAt.getTime()).toBeGreaterThanOrEqual(migratedFrom + yearMs - 5000)
    expect(rows[0]!.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + yearMs + 5000)
  } finally {
    await conn.end()
  }
  const db = createDatabase({ url, poolSize: 2 })
  try {
    expect(await checkLedgerInvariants(db.primary)).toEqual(HOLDS)
  } finally {
    await db.close()
  }
})
