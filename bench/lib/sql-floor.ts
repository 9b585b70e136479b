/**
 * The floor for the award path: the SQL work of one award as plain mysql2 queries with no HTTP, no
 * ORM and no crypto — lock the order row (FOR UPDATE), count the points in the user's daily total
 * for the merchant (the upsert the origin does for every award, capped or not), lock the user's
 * account row, insert the transfer and its two entries, update the account (balance, seq, total
 * earned), insert the award's lot and update the order —
 * at N concurrent clients on the fresh database's real tables. Like the origin, the merchant's
 * issuance account is never locked or updated, and every award touches a different user's row
 * than the awards running beside it. The rows it writes obey the ledger invariants.
 */
import mysql from 'mysql2/promise'
import { shanghaiDay } from '../../origin/services/award-rule.ts'
import { type Latency, percentiles } from './load.ts'

export interface FloorPlan {
  databaseUrl: string
  merchantId: number
  rule: { earnPoints: number; perFen: number }
  users: number
  /** Orders per variant: the per-user floor and the hot-row comparison each get their own. */
  orders: number
  amountFen: number
  tag: string
}

export interface FloorResult {
  transactions: number
  durationS: number
  tps: number
  clients: number
  errors: number
  latencyMs: Latency
  exhausted: boolean
}

type Conn = mysql.Connection
const BATCH = 2000

const yearLater = (now: Date) => new Date(now.getTime() + 365 * 86_400_000)
const outTradeNo = (tag: string, i: number) => `BF${tag}${i}`

/** Users, their accounts and 2 × `orders` PENDING orders spread round-robin over the users. */
export async function prepareFloor(plan: FloorPlan): Promise<{ issuanceAccountId: number }> {
  const conn = await mysql.createConnection({ uri: plan.databaseUrl, timezone: 'Z' })
  try {
    const now = new Date()
    for (let start = 0; start < plan.users; start += BATCH) {
      const rows = []
      for (let i = start; i < Math.min(plan.users, start + BATCH); i++)
        rows.push([`bf-${plan.tag}-${i}`, now, now])
      await conn.query('INSERT INTO users (openid, created_at, updated_at) VALUES ?', [rows])
    }
    await conn.query(
      `INSERT INTO accounts (kind, owner_id, created_at)
       SELECT 'USER', id, ? FROM users WHERE openid LIKE ? ORDER BY id`,
      [now, `bf-${plan.tag}-%`],
    )
    const [users] = await conn.query('SELECT id FROM users WHERE openid LIKE ? ORDER BY id', [
      `bf-${plan.tag}-%`,
    ])
    const userIds = (users as Array<{ id: number }>).map((u) => u.id)
    const expires = new Date(now.getTime() + 3600_000)
    const total = 2 * plan.orders
    for (let start = 0; start < total; start += BATCH) {
      const rows = []
      for (let i = start; i < Math.min(total, start + BATCH); i++)
        rows.push([
          outTradeNo(plan.tag, i),
          userIds[i % userIds.length],
          plan.merchantId,
          plan.amountFen,
          plan.amountFen,
          'PENDING',
          plan.rule.earnPoints,
          plan.rule.perFen,
          0,
          null,
          null,
          expires,
          now,
          now,
        ])
      await conn.query(
        `INSERT INTO orders (out_trade_no, user_id, merchant_id, amount_fen, payable_fen, status, rule_earn_points,
           rule_per_fen, rule_min_order_fen, rule_max_points_per_order, rule_daily_cap_per_user,
           expires_at, created_at, updated_at) VALUES ?`,
        [rows],
      )
    }
    // The issuance account exists once; the origin's ensureAccount finds this same row later.
    await conn.query(
      "INSERT IGNORE INTO accounts (kind, owner_id, created_at) VALUES ('MERCHANT_ISSUANCE', ?, ?)",
      [plan.merchantId, now],
    )
    const [acct] = await conn.query(
      "SELECT id FROM accounts WHERE kind = 'MERCHANT_ISSUANCE' AND owner_id = ?",
      [plan.merchantId],
    )
    return { issuanceAccountId: (acct as Array<{ id: number }>)[0]!.id }
  } finally {
    await conn.end()
  }
}

async function awardOnce(c: Conn, otn: string, issuanceAccountId: number, hotRow: boolean): Promise<void> {
  await c.query('START TRANSACTION')
  try {
    const [orders] = await c.query(
      'SELECT id, user_id, merchant_id, payable_fen, status, rule_earn_points, rule_per_fen FROM orders WHERE out_trade_no = ? FOR UPDATE',
      [otn],
    )
    const order = (orders as Array<Record<string, number | string>>)[0]
    if (order?.status !== 'PENDING') throw new Error(`floor order ${otn} is not PENDING`)
    const points =
      Math.floor(Number(order.payable_fen) / Number(order.rule_per_fen)) * Number(order.rule_earn_points)
    const now = new Date()
    await c.query(
      `INSERT INTO daily_awards (user_id, merchant_id, day, points) VALUES (?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE points = points + ?`,
      [order.user_id, order.merchant_id, shanghaiDay(now), points, points],
    )
    const [accts] = await c.query(
      "SELECT id, balance, last_seq FROM accounts WHERE kind = 'USER' AND owner_id = ? FOR UPDATE",
      [order.user_id],
    )
    const acct = (accts as Array<{ id: number; balance: number; last_seq: number }>)[0]!
    const [inserted] = await c.query(
      `INSERT INTO transfers (business_key, kind, debit_account_id, credit_account_id, points, merchant_id, ref_id, created_at)
       VALUES (?, 'EARN', ?, ?, ?, ?, ?, ?)`,
      [`EARN:${order.id}`, issuanceAccountId, acct.id, points, order.merchant_id, String(order.id), now],
    )
    const transferId = (inserted as mysql.ResultSetHeader).insertId
    const seq = Number(acct.last_seq) + 1
    const balanceAfter = Number(acct.balance) + points
    await c.query(
      `INSERT INTO ledger_entries (account_id, transfer_id, seq, delta, balance_after, kind, ref_id, merchant_id, created_at)
       VALUES (?, ?, NULL, ?, NULL, 'EARN', ?, ?, ?), (?, ?, ?, ?, ?, 'EARN', ?, ?, ?)`,
      [
        issuanceAccountId,
        transferId,
        -points,
        String(order.id),
        order.merchant_id,
        now,
        acct.id,
        transferId,
        seq,
        points,
        balanceAfter,
        String(order.id),
        order.merchant_id,
        now,
      ],
    )
    const [updated] = await c.query(
      'UPDATE accounts SET balance = ?, last_seq = ?, total_earned = total_earned + ? WHERE id = ? AND last_seq = ?',
      [balanceAfter, seq, points, acct.id, seq - 1],
    )
    if ((updated as mysql.ResultSetHeader).affectedRows !== 1) throw new Error('account moved under its lock')
    // The award's lot (API.md §14): these points expire a year from now.
    await c.query(
      `INSERT INTO point_lots (account_id, source_transfer_id, points, remaining, expires_at, open_until, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [acct.id, transferId, points, points, yearLater(now), yearLater(now), now],
    )
    // The design not taken: a merchant-wide balance row that every award of the merchant updates.
    if (hotRow)
      await c.query('UPDATE accounts SET balance = balance - ? WHERE id = ?', [points, issuanceAccountId])
    await c.query(
      "UPDATE orders SET status = 'PAID', points_awarded = ?, paid_at = ?, updated_at = ? WHERE id = ?",
      [points, now, now, order.id],
    )
    await c.query('COMMIT')
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {})
    throw err
  }
}

/**
 * `hotRow` runs the comparison the design decision rests on: the same transaction plus an update of
 * the merchant's issuance account row, so every award of that merchant queues on one row.
 */
export async function runFloor(
  plan: FloorPlan,
  issuanceAccountId: number,
  clients: number,
  durationS: number,
  hotRow = false,
): Promise<FloorResult> {
  const conns: Conn[] = []
  for (let i = 0; i < clients; i++) {
    const c = await mysql.createConnection({ uri: plan.databaseUrl, timezone: 'Z' })
    // The origin runs every transaction READ COMMITTED (origin/db/client.ts runTx).
    await c.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED')
    conns.push(c)
  }
  const samples: number[] = []
  let next = 0
  let errors = 0
  let exhausted = false
  const started = performance.now()
  const deadline = started + durationS * 1000
  try {
    await Promise.all(
      conns.map(async (c) => {
        while (performance.now() < deadline) {
          const i = next++
          if (i >= plan.orders) {
            exhausted = true
            return
          }
          const t0 = performance.now()
          try {
            await awardOnce(c, outTradeNo(plan.tag, hotRow ? plan.orders + i : i), issuanceAccountId, hotRow)
            samples.push(performance.now() - t0)
          } catch {
            errors++
          }
        }
      }),
    )
  } finally {
    // System accounts keep no stored balance (their balance is the sum of their entries): put it back.
    if (hotRow) await conns[0]?.query('UPDATE accounts SET balance = 0 WHERE id = ?', [issuanceAccountId])
    await Promise.all(conns.map((c) => c.end()))
  }
  const elapsed = (performance.now() - started) / 1000
  return {
    transactions: samples.length,
    durationS: Math.round(elapsed * 100) / 100,
    tps: Math.round(samples.length / elapsed),
    clients,
    errors,
    latencyMs: percentiles(samples),
    exhausted,
  }
}

/** Closes the floor orders nobody paid, so the origin's reconciliation job leaves them alone. */
export async function closeLeftoverFloorOrders(plan: FloorPlan): Promise<void> {
  const conn = await mysql.createConnection({ uri: plan.databaseUrl, timezone: 'Z' })
  try {
    await conn.query("UPDATE orders SET status = 'CLOSED' WHERE out_trade_no LIKE ? AND status = 'PENDING'", [
      `BF${plan.tag}%`,
    ])
  } finally {
    await conn.end()
  }
}
