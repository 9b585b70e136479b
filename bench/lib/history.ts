/**
 * Long ledger histories written straight in SQL, consistent with the ledger invariants: n balanced
 * MERCHANT_GRANT transfers of 1 point from the merchant's issuance account (a system account:
 * entries without seq) to the user, whose entries chain seq 1..n with balance_after = seq, and
 * whose account row ends at balance = last_seq = total_earned = n, with one lot of n points.
 */
import { MySqlDialect } from 'drizzle-orm/mysql-core'
import mysql from 'mysql2/promise'
import { recordsPageQuery } from '../../origin/services/points.ts'

const BATCH = 5000

export async function writeHistory(
  databaseUrl: string,
  opts: { userId: number; merchantId: number; issuanceAccountId: number; entries: number },
): Promise<{ ms: number }> {
  const t0 = performance.now()
  const conn = await mysql.createConnection({ uri: databaseUrl, timezone: 'Z' })
  try {
    const [rows] = await conn.query(
      "SELECT id, balance, last_seq FROM accounts WHERE kind = 'USER' AND owner_id = ?",
      [opts.userId],
    )
    const acct = (rows as Array<{ id: number; balance: number; last_seq: number }>)[0]
    if (!acct || Number(acct.last_seq) !== 0) throw new Error(`history user ${opts.userId} must start empty`)
    const prefix = `HIST:${acct.id}:`
    const start = Date.now() - opts.entries * 1000
    await conn.query('START TRANSACTION')
    for (let from = 1; from <= opts.entries; from += BATCH) {
      const values = []
      for (let i = from; i < Math.min(opts.entries + 1, from + BATCH); i++)
        values.push([
          `${prefix}${i}`,
          'MERCHANT_GRANT',
          opts.issuanceAccountId,
          acct.id,
          1,
          opts.merchantId,
          String(i),
          new Date(start + i * 1000),
        ])
      await conn.query(
        `INSERT INTO transfers (business_key, kind, debit_account_id, credit_account_id, points, merchant_id, ref_id, created_at)
         VALUES ?`,
        [values],
      )
    }
    // Entries in transfer order; ref_id holds i, which is both the seq and the balance after it.
    const entries = (side: 'credit' | 'debit') =>
      side === 'credit'
        ? `SELECT credit_account_id, id, CAST(ref_id AS UNSIGNED), points, CAST(ref_id AS SIGNED), kind, ref_id, merchant_id, created_at`
        : 'SELECT debit_account_id, id, NULL, -points, NULL, kind, ref_id, merchant_id, created_at'
    for (const side of ['debit', 'credit'] as const)
      await conn.query(
        `INSERT INTO ledger_entries (account_id, transfer_id, seq, delta, balance_after, kind, ref_id, merchant_id, created_at)
         ${entries(side)} FROM transfers WHERE business_key LIKE ? ORDER BY id`,
        [`${prefix}%`],
      )
    await conn.query(
      'UPDATE accounts SET balance = balance + ?, last_seq = ?, total_earned = total_earned + ? WHERE id = ?',
      [opts.entries, opts.entries, opts.entries, acct.id],
    )
    // The grants' points as one lot (balance = Σ open lots), expiring long after any run.
    const expires = new Date(Date.now() + 365 * 24 * 3600_000)
    await conn.query(
      `INSERT INTO point_lots (account_id, points, remaining, expires_at, open_until, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [acct.id, opts.entries, opts.entries, expires, expires, new Date()],
    )
    await conn.query('COMMIT')
    return { ms: Math.round(performance.now() - t0) }
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    await conn.end()
  }
}

/**
 * How MariaDB/MySQL plans the records page: the very statement the origin runs
 * (services/points.ts recordsPageQuery), first page of 20. Returns the ledger_entries step.
 */
export async function explainRecordsPage(
  databaseUrl: string,
  userId: number,
): Promise<Record<string, unknown>> {
  const conn = await mysql.createConnection({ uri: databaseUrl, timezone: 'Z' })
  try {
    const page = new MySqlDialect().sqlToQuery(recordsPageQuery(userId, undefined, 21))
    const [plan] = await conn.query(`EXPLAIN ${page.sql}`, page.params)
    const rows = plan as Array<Record<string, unknown>>
    const row = rows.find((r) => r.table === 'e') ?? {}
    return { key: row.key, type: row.type, rows: row.rows, extra: row.Extra, steps: rows.length }
  } finally {
    await conn.end()
  }
}
