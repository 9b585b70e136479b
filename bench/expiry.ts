/**
 * `npm run bench:expiry`: the point-expiry job (API.md §14) on a fresh database holding
 * BENCH_EXPIRY_LOTS (100 000) expired lots, BENCH_EXPIRY_LOTS_PER_USER (100) per user, expired by
 * BENCH_EXPIRY_RUNNERS (2) runners at once, as two origins would; then the hot paths of one user
 * with BENCH_EXPIRY_HOT_LOTS (10 000) open lots and BENCH_EXPIRY_HOT_ENTRIES (100 000) entries:
 * the balance read (with expiringSoon) and a debit. Checks that every lot expired once and the
 * ledger invariants after. Writes the figures to stdout; see docs/BENCHMARKS.md.
 */
import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import { migrateDatabase } from '../db/migrate.ts'
import { createDatabase, runTx } from '../origin/db/client.ts'
import { checkLedgerInvariants, PLATFORM, transfer, userAccount } from '../origin/services/ledger.ts'
import { balanceOf } from '../origin/services/points.ts'
import { expireDueLots } from '../origin/services/points-expiry.ts'

const num = (name: string, fallback: number) => {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? fallback : Number(raw)
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got "${raw}"`)
  return value
}
const settings = {
  lots: num('BENCH_EXPIRY_LOTS', 100_000),
  lotsPerUser: num('BENCH_EXPIRY_LOTS_PER_USER', 100),
  runners: num('BENCH_EXPIRY_RUNNERS', 2),
  hotLots: num('BENCH_EXPIRY_HOT_LOTS', 10_000),
  hotEntries: num('BENCH_EXPIRY_HOT_ENTRIES', 100_000),
  mysqlServer: process.env.TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306',
}
const BATCH = 5000
const DAY = 24 * 3600_000

type Conn = mysql.Connection

async function insertRows(conn: Conn, head: string, rows: unknown[][]) {
  for (let i = 0; i < rows.length; i += BATCH)
    await conn.query(`${head} VALUES ?`, [rows.slice(i, i + BATCH)])
}

/**
 * Users each credited `perUser` grants of 1..3 points, one lot per grant expiring at `expiresAt(i)`,
 * written straight in SQL the way transfer() would have: balanced transfers, chained entries,
 * account rows at balance = last_seq = total_earned, lots covering the balance.
 */
async function seed(conn: Conn, tag: string, users: number, perUser: number, expiresAt: (i: number) => Date) {
  const now = new Date()
  const [merchantUser] = (await conn.query(
    'INSERT INTO users (openid, created_at, updated_at) VALUES (?, ?, ?)',
    [`${tag}-owner`, now, now],
  )) as unknown as [mysql.ResultSetHeader]
  const [merchant] = (await conn.query(
    `INSERT INTO merchants (owner_user_id, name, contact_phone, status, earn_points, per_fen, min_order_fen, created_at, updated_at)
     VALUES (?, ?, 'x', 'ACTIVE', 1, 100, 0, ?, ?)`,
    [merchantUser.insertId, tag, now, now],
  )) as unknown as [mysql.ResultSetHeader]
  const merchantId = merchant.insertId
  const [issuance] = (await conn.query(
    "INSERT INTO accounts (kind, owner_id, created_at) VALUES ('MERCHANT_ISSUANCE', ?, ?)",
    [merchantId, now],
  )) as unknown as [mysql.ResultSetHeader]
  const userIds: number[] = []
  for (let u = 0; u < users; u++) {
    const [res] = (await conn.query('INSERT INTO users (openid, created_at, updated_at) VALUES (?, ?, ?)', [
      `${tag}-${u}`,
      now,
      now,
    ])) as unknown as [mysql.ResultSetHeader]
    userIds.push(res.insertId)
  }
  await insertRows(
    conn,
    'INSERT INTO accounts (kind, owner_id, created_at)',
    userIds.map((id) => ['USER', id, now]),
  )
  const [accts] = await conn.query(
    "SELECT id, owner_id FROM accounts WHERE kind = 'USER' AND owner_id IN (?)",
    [userIds],
  )
  const accountOf = new Map((accts as Array<{ id: number; owner_id: number }>).map((a) => [a.owner_id, a.id]))
  const transfers: unknown[][] = []
  for (const userId of userIds)
    for (let i = 1; i <= perUser; i++)
      transfers.push([
        `${tag}:${userId}:${i}`,
        'MERCHANT_GRANT',
        issuance.insertId,
        accountOf.get(userId),
        1 + (i % 3),
        merchantId,
        String(i),
        now,
      ])
  await insertRows(
    conn,
    'INSERT INTO transfers (business_key, kind, debit_account_id, credit_account_id, points, merchant_id, ref_id, created_at)',
    transfers,
  )
  const like = `${tag}:%`
  await conn.query(
    `INSERT INTO ledger_entries (account_id, transfer_id, seq, delta, balance_after, kind, ref_id, merchant_id, created_at)
     SELECT debit_account_id, id, NULL, -points, NULL, kind, ref_id, merchant_id, created_at
     FROM transfers WHERE business_key LIKE ? ORDER BY id`,
    [like],
  )
  // seq = i and balance_after = the running sum, per account, in transfer order.
  await conn.query(
    `INSERT INTO ledger_entries (account_id, transfer_id, seq, delta, balance_after, kind, ref_id, merchant_id, created_at)
     SELECT credit_account_id, id, CAST(ref_id AS UNSIGNED), points,
            SUM(points) OVER (PARTITION BY credit_account_id ORDER BY id), kind, ref_id, merchant_id, created_at
     FROM transfers WHERE business_key LIKE ? ORDER BY id`,
    [like],
  )
  await conn.query(
    `UPDATE accounts a JOIN (SELECT credit_account_id, SUM(points) s, COUNT(*) c FROM transfers
                             WHERE business_key LIKE ? GROUP BY credit_account_id) t ON t.credit_account_id = a.id
     SET a.balance = t.s, a.last_seq = t.c, a.total_earned = t.s`,
    [like],
  )
  const [rows] = await conn.query(
    'SELECT id, credit_account_id, points, CAST(ref_id AS UNSIGNED) AS i FROM transfers WHERE business_key LIKE ?',
    [like],
  )
  const lots = (rows as Array<{ id: number; credit_account_id: number; points: number; i: number }>).map(
    (t) => {
      const at = expiresAt(Number(t.i))
      return [t.credit_account_id, t.id, t.points, t.points, at, at, now]
    },
  )
  await insertRows(
    conn,
    'INSERT INTO point_lots (account_id, source_transfer_id, points, remaining, expires_at, open_until, created_at)',
    lots,
  )
  return userIds
}

const ms = (t0: number) => Math.round(performance.now() - t0)
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!

async function main() {
  const name = `points_bench_expiry_${randomBytes(4).toString('hex')}`
  const url = `${settings.mysqlServer}/${name}`
  await migrateDatabase(url)
  const conn = await mysql.createConnection({ uri: url, timezone: 'Z' })
  const db = createDatabase({ url, poolSize: settings.runners + 2 })
  try {
    const users = Math.ceil(settings.lots / settings.lotsPerUser)
    let t0 = performance.now()
    const past = Date.now() - DAY
    await seed(conn, 'exp', users, settings.lotsPerUser, (i) => new Date(past + i * 1000))
    console.log(`seeded ${users * settings.lotsPerUser} expired lots of ${users} users in ${ms(t0)} ms`)

    t0 = performance.now()
    const now = new Date()
    const counts = await Promise.all(
      Array.from({ length: settings.runners }, async () => {
        let total = 0
        for (;;) {
          const n = await expireDueLots(db.primary, now)
          total += n
          if (n === 0) break
        }
        return total
      }),
    )
    const took = ms(t0)
    const expired = counts.reduce((a, b) => a + b, 0)
    const [[check]] = (await conn.query(
      `SELECT (SELECT COUNT(*) FROM transfers WHERE kind = 'EXPIRE') AS expires,
              (SELECT COUNT(*) FROM point_lots WHERE open_until IS NOT NULL) AS open`,
    )) as unknown as [[{ expires: number; open: number }]]
    console.log(
      `expired ${expired} lots with ${settings.runners} runners (${counts.join(' + ')}) in ${took} ms: ` +
        `${Math.round((expired * 1000) / took)} lots/s; EXPIRE transfers ${check.expires}, open lots left ${check.open}`,
    )

    t0 = performance.now()
    const future = Date.now() + 10 * DAY
    const hot = (
      await seed(conn, 'hot', 1, settings.hotEntries, (i) =>
        i <= settings.hotLots ? new Date(future + i * 1000) : new Date(0),
      )
    )[0]!
    // Only hotLots of the hot user's grants stay open lots; the rest were taken by a debit long ago.
    await conn.query(
      `UPDATE point_lots SET remaining = 0, open_until = NULL WHERE expires_at = '1970-01-01 00:00:00'`,
    )
    const [[{ taken }]] = (await conn.query(
      `SELECT COALESCE(SUM(points), 0) AS taken FROM point_lots WHERE expires_at = '1970-01-01 00:00:00'`,
    )) as unknown as [[{ taken: number }]]
    await conn.query(
      "INSERT IGNORE INTO accounts (kind, owner_id, created_at) VALUES ('PLATFORM', 0, NOW(3))",
    )
    const [debit] = (await conn.query(
      `INSERT INTO transfers (business_key, kind, debit_account_id, credit_account_id, points, created_at)
       SELECT 'hot-past-debit', 'ADMIN_ADJUST', a.id, p.id, ?, NOW(3) FROM accounts a, accounts p
       WHERE a.kind = 'USER' AND a.owner_id = ? AND p.kind = 'PLATFORM' AND p.owner_id = 0`,
      [Number(taken), hot],
    )) as unknown as [mysql.ResultSetHeader]
    await conn.query(
      `INSERT INTO ledger_entries (account_id, transfer_id, seq, delta, balance_after, kind, created_at)
       SELECT t.debit_account_id, t.id, a.last_seq + 1, -t.points, a.balance - t.points, t.kind, t.created_at
       FROM transfers t JOIN accounts a ON a.id = t.debit_account_id WHERE t.id = ?`,
      [debit.insertId],
    )
    await conn.query(
      `INSERT INTO ledger_entries (account_id, transfer_id, delta, kind, created_at)
       SELECT credit_account_id, id, points, kind, created_at FROM transfers WHERE id = ?`,
      [debit.insertId],
    )
    await conn.query(
      `INSERT INTO transfer_lots (transfer_id, lot_id, points)
       SELECT ?, id, points FROM point_lots WHERE expires_at = '1970-01-01 00:00:00'`,
      [debit.insertId],
    )
    await conn.query(
      `UPDATE accounts SET balance = balance - ?, last_seq = last_seq + 1
       WHERE kind = 'USER' AND owner_id = ?`,
      [Number(taken), hot],
    )
    console.log(
      `hot user: ${settings.hotEntries + 1} entries, ${settings.hotEntries} lots of which ${settings.hotLots} open, seeded in ${ms(t0)} ms`,
    )

    const notice = 30 * 24 * 3600
    const reads: number[] = []
    for (let i = 0; i < 300; i++) {
      const r0 = performance.now()
      await balanceOf(db.primary, hot, notice)
      reads.push(performance.now() - r0)
    }
    const shown = await balanceOf(db.primary, hot, notice)
    console.log(
      `balance read with expiringSoon over ${settings.hotLots} lots in the window: p50 ${pct(reads, 0.5).toFixed(2)} ms, ` +
        `p99 ${pct(reads, 0.99).toFixed(2)} ms (${JSON.stringify(shown.expiringSoon)})`,
    )
    const narrow: number[] = []
    for (let i = 0; i < 300; i++) {
      const r0 = performance.now()
      await balanceOf(db.primary, hot, 3600)
      narrow.push(performance.now() - r0)
    }
    console.log(
      `balance read, no lot in the window: p50 ${pct(narrow, 0.5).toFixed(2)} ms, p99 ${pct(narrow, 0.99).toFixed(2)} ms`,
    )

    const debits: number[] = []
    for (let i = 0; i < 200; i++) {
      const r0 = performance.now()
      await runTx(db.primary, (tx) =>
        transfer(tx, {
          businessKey: `hot-debit-${i}`,
          kind: 'ADMIN_ADJUST',
          debit: userAccount(hot),
          credit: PLATFORM,
          points: 5,
          now: new Date(),
        }),
      )
      debits.push(performance.now() - r0)
    }
    console.log(
      `debit of 5 points (2-3 lots) from the hot user: p50 ${pct(debits, 0.5).toFixed(2)} ms, p99 ${pct(debits, 0.99).toFixed(2)} ms`,
    )
    for (const [label, q] of [
      [
        'debit FIFO read',
        'SELECT id, remaining FROM point_lots WHERE account_id = ? AND open_until IS NOT NULL ORDER BY open_until, remaining, id LIMIT 200',
      ],
      [
        'expiry job scan',
        'SELECT id FROM point_lots WHERE open_until <= NOW(3) ORDER BY open_until, id LIMIT 200',
      ],
    ] as const) {
      const [[acct]] = (await conn.query("SELECT id FROM accounts WHERE kind = 'USER' AND owner_id = ?", [
        hot,
      ])) as unknown as [[{ id: number }]]
      const [plan] = await conn.query(`EXPLAIN ${q}`, [acct.id])
      const row = (plan as Array<Record<string, unknown>>)[0]!
      console.log(
        `EXPLAIN ${label}: key ${row.key}, type ${row.type}, rows ${row.rows}, extra ${row.Extra ?? ''}`,
      )
    }

    t0 = performance.now()
    const inv = await checkLedgerInvariants(db.primary)
    console.log(`invariants (${ms(t0)} ms): ${JSON.stringify(inv)}`)
    if (
      Object.values(inv).some((v) => v !== 0) ||
      Number(check.open) !== 0 ||
      Number(check.expires) !== expired
    )
      process.exitCode = 1
  } finally {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
    await conn.end()
    await db.close()
  }
}

await main()
