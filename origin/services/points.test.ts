/**
 * The records page follows the account's seq, not the entries' ids: on a distributed database ids
 * are unique but need not grow in the order the balance moved (docs/SCALING.md).
 */
import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { migrateDatabase } from '../../db/migrate.ts'
import { MYSQL_SERVER } from '../../test/harness/stack.ts'
import { createDatabase, type Database } from '../db/client.ts'
import { recordsOf } from './points.ts'

const name = `points_records_${randomBytes(5).toString('hex')}`
const url = `${MYSQL_SERVER}/${name}`
let database: Database
const ALICE = 1
const BOB = 2

/** Entries whose ids fall as their seq rises, as no MySQL primary would hand them out. */
beforeAll(async () => {
  await migrateDatabase(url)
  const conn = await mysql.createConnection({ uri: url, timezone: 'Z' })
  try {
    const now = new Date()
    await conn.query(
      `INSERT INTO accounts (id, kind, owner_id, balance, last_seq, created_at)
       VALUES (10, 'USER', ${ALICE}, 70, 7, ?), (20, 'USER', ${BOB}, 20, 2, ?)`,
      [now, now],
    )
    const entry = (id: number, accountId: number, seq: number) => [
      id,
      accountId,
      id,
      seq,
      10,
      seq * 10,
      'MERCHANT_GRANT',
      now,
    ]
    const rows = [1, 2, 3, 4, 5, 6, 7].map((seq) => entry(1000 - seq * 10, 10, seq))
    rows.push(entry(995, 20, 1), entry(905, 20, 2))
    await conn.query(
      `INSERT INTO ledger_entries (id, account_id, transfer_id, seq, delta, balance_after, kind, created_at)
       VALUES ?`,
      [rows],
    )
  } finally {
    await conn.end()
  }
  database = createDatabase({ url, poolSize: 2 })
})
afterAll(async () => {
  await database?.primary.execute(`DROP DATABASE IF EXISTS \`${name}\``)
  await database?.close()
})

const seqsOf = (page: { items: Array<{ balanceAfter: number }> }) =>
  page.items.map((r) => r.balanceAfter / 10)

it('pages newest first by seq, each entry once, whatever order the ids are in', async () => {
  const pages: number[][] = []
  let cursor: string | undefined
  do {
    const page = await recordsOf(database.primary, ALICE, { limit: 3, cursor })
    pages.push(seqsOf(page))
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  expect(pages).toEqual([[7, 6, 5], [4, 3, 2], [1]])
})

it('the cursor is the last entry id, so a release that pages by id continues from the same entry', async () => {
  const first = await recordsOf(database.primary, BOB, { limit: 1 })
  expect(first.items.map((r) => r.id)).toEqual(['905'])
  expect(first.nextCursor).toBe('905')
  expect(seqsOf(await recordsOf(database.primary, BOB, { limit: 5, cursor: '905' }))).toEqual([1])
})

it("another user's entry as the cursor ends the list rather than showing anything", async () => {
  const page = await recordsOf(database.primary, BOB, { limit: 5, cursor: '930' })
  expect(page).toEqual({ items: [], nextCursor: null })
})
