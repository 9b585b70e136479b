/**
 * CPU to build the award's statements: drizzle's query builder against the same statement as an
 * `sql` template (docs/BENCHMARKS.md, second round, change 2). Builds only; nothing is sent, so no
 * database is needed.
 *
 *   npx tsx bench/query-build-cost.ts
 */
import { and, eq, sql } from 'drizzle-orm'
import { MySqlDialect } from 'drizzle-orm/mysql-core'
import { drizzle } from 'drizzle-orm/mysql2'
import mysql from 'mysql2'
import { accounts, dailyAwards, ledgerEntries, orders, transfers } from '../db/schema.ts'

const ROUNDS = 20_000
const pool = mysql.createPool({ uri: 'mysql://root@127.0.0.1:3306/unused' })
const db = drizzle({ client: pool, mode: 'default' })
const dialect = new MySqlDialect()
const now = new Date()
const entry = {
  accountId: 1,
  transferId: 1,
  delta: 5,
  kind: 'EARN' as const,
  refId: '1',
  merchantId: 1,
  createdAt: now,
  seq: 1,
  balanceAfter: 5,
}

const builders: Record<string, () => unknown> = {
  'order FOR UPDATE, all columns': () =>
    db.select().from(orders).where(eq(orders.outTradeNo, 'PT1')).for('update').toSQL(),
  'daily total upsert': () =>
    db
      .insert(dailyAwards)
      .values({ userId: 1, merchantId: 2, day: '2026-01-01', points: 3 })
      .onDuplicateKeyUpdate({ set: { points: sql`${dailyAwards.points} + ${3}` } })
      .toSQL(),
  'account FOR UPDATE': () =>
    db
      .select({ id: accounts.id, balance: accounts.balance, lastSeq: accounts.lastSeq })
      .from(accounts)
      .where(and(eq(accounts.kind, 'USER'), eq(accounts.ownerId, 5)))
      .for('update')
      .toSQL(),
  'transfer insert': () =>
    db
      .insert(transfers)
      .values({
        businessKey: 'EARN:1',
        kind: 'EARN',
        debitAccountId: 1,
        creditAccountId: 2,
        points: 5,
        merchantId: 1,
        refId: '1',
        createdAt: now,
      })
      .toSQL(),
  'two entries insert': () =>
    db
      .insert(ledgerEntries)
      .values([entry, { ...entry, seq: null, balanceAfter: null }])
      .toSQL(),
  'order update': () =>
    db
      .update(orders)
      .set({ status: 'PAID', pointsAwarded: 5, transactionId: 'x', paidAt: now, updatedAt: now })
      .where(eq(orders.id, 1))
      .toSQL(),
  'the same account lock as an sql template': () =>
    dialect.sqlToQuery(
      sql`SELECT id, balance, last_seq AS lastSeq FROM accounts WHERE kind = 'USER' AND owner_id = ${5} FOR UPDATE`,
    ),
}

for (const [name, build] of Object.entries(builders)) {
  for (let i = 0; i < ROUNDS / 10; i++) build()
  const started = performance.now()
  for (let i = 0; i < ROUNDS; i++) build()
  const us = ((performance.now() - started) * 1000) / ROUNDS
  console.log(`${name.padEnd(42)} ${us.toFixed(1).padStart(6)} µs`)
}
await pool.promise().end()
