/**
 * Payments applied in batches (group commit, issue 16): one transaction for every payment that
 * arrived together, with one multi-row statement per table instead of ten statements per award.
 *
 * Exactly-once is the lone path's: each order is locked and its status checked under the lock, the
 * award's business key EARN:<orderId> is unique, and the whole batch commits or none of it does.
 * Locks are taken table by table in the order the lone path takes them (orders, daily totals, user
 * accounts), each table's rows in key order, so batches running side by side never wait on each
 * other in a cycle; a deadlock with anything else retries the batch (runTx).
 *
 * A payment that is not a plain PENDING → PAID (a CLOSED order, whose redeemed points a close gave
 * back) is applied on its own after the batch commits. If the batch fails for any other reason,
 * nothing of it was written, and every payment is applied on its own, so one bad payment fails
 * alone and the rest go through.
 */
import { inArray, sql } from 'drizzle-orm'
import { merchants } from '../../db/schema.ts'
import { type Numeric, runTx, selectRows, type Tx, writeRows } from '../db/client.ts'
import type { PayTransaction } from '../wechat/pay-resources.ts'
import { capByDailyLimit, pointsForOrder, shanghaiDay } from './award-rule.ts'
import { ensureAccount, MAX_TRANSFER_POINTS, merchantIssuance } from './ledger.ts'
import { freshLotOf, insertLots, type NewLot } from './lots.ts'
import { applyOne, mismatchOf, paidAtOf, ruleOfOrder } from './order-payment.ts'
import type { OrderRow } from './order-queries.ts'
import { lockOrders, markPaidMany, PAYABLE } from './order-state.ts'
import { enqueuePointsEarned } from './outbox.ts'
import type { Applied } from './payment-applied.ts'
import type { PaymentDeps } from './payment-deps.ts'

interface Paying {
  order: OrderRow
  txn: PayTransaction
  paidAt: Date
  /** Before the daily cap; then what the cap allows. */
  points: number
  awarded: number
}

/** Per item: its answer, or `undefined` when it is to be applied on its own after the commit. */
type BatchAnswer = Applied | undefined

const orTogether = (parts: ReturnType<typeof sql>[]) => sql.join(parts, sql` OR `)
const list = (ids: number[]) =>
  sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  )

/** Adds each award to its user's daily total at the merchant, capping it by the rule's daily cap. */
async function countDailyAwards(tx: Tx, paying: Paying[]): Promise<void> {
  const earning = paying.filter((p) => p.points > 0)
  if (earning.length === 0) return
  const keyOf = (p: Paying) => ({
    userId: p.order.userId,
    merchantId: p.order.merchantId,
    day: shanghaiDay(p.paidAt),
  })
  const id = (k: ReturnType<typeof keyOf>) => `${k.userId}|${k.merchantId}|${k.day}`
  const keys = new Map(earning.map((p) => [id(keyOf(p)), keyOf(p)]))
  // Primary-key order: two batches lock shared totals in the same order.
  const sorted = [...keys.values()].sort(
    (a, b) => a.userId - b.userId || a.merchantId - b.merchantId || a.day.localeCompare(b.day),
  )
  const upsert = (delta: Map<string, number>) => {
    const rows = sorted.filter((k) => delta.has(id(k)))
    if (rows.length === 0) return Promise.resolve()
    return writeRows(
      tx,
      sql`INSERT INTO daily_awards (user_id, merchant_id, day, points) VALUES ${sql.join(
        rows.map((k) => sql`(${k.userId}, ${k.merchantId}, ${k.day}, ${delta.get(id(k))})`),
        sql`, `,
      )} ON DUPLICATE KEY UPDATE points = points + VALUES(points)`,
    )
  }
  const delta = new Map<string, number>()
  if (earning.every((p) => p.order.ruleDailyCapPerUser === null)) {
    for (const p of earning) {
      p.awarded = p.points
      delta.set(id(keyOf(p)), (delta.get(id(keyOf(p))) ?? 0) + p.points)
    }
    await upsert(delta)
    return
  }
  // A cap needs today's total under a lock: create the missing rows (locking all), read, then add.
  await upsert(new Map(sorted.map((k) => [id(k), 0])))
  const counted = await selectRows<{ userId: Numeric; merchantId: Numeric; day: string; points: Numeric }>(
    tx,
    sql`SELECT user_id AS userId, merchant_id AS merchantId, DATE_FORMAT(day, '%Y-%m-%d') AS day, points
        FROM daily_awards WHERE ${orTogether(
          sorted.map(
            (k) => sql`(user_id = ${k.userId} AND merchant_id = ${k.merchantId} AND day = ${k.day})`,
          ),
        )} FOR UPDATE`,
  )
  const today = new Map(
    counted.map((r) => [
      id({ userId: Number(r.userId), merchantId: Number(r.merchantId), day: r.day }),
      Number(r.points),
    ]),
  )
  for (const p of earning) {
    const k = id(keyOf(p))
    const before = today.get(k)
    if (before === undefined) throw new Error(`daily total ${k} missing under its lock`)
    p.awarded = capByDailyLimit(p.points, p.order.ruleDailyCapPerUser, before)
    today.set(k, before + p.awarded)
    if (p.awarded > 0) delta.set(k, (delta.get(k) ?? 0) + p.awarded)
  }
  await upsert(delta)
}

/** The EARN transfers of the batch: transfers, entries, user accounts and lots, one statement each. */
async function creditAwards(deps: PaymentDeps, tx: Tx, credits: Paying[], now: Date): Promise<void> {
  for (const p of credits) {
    if (!Number.isSafeInteger(p.awarded) || p.awarded <= 0 || p.awarded > MAX_TRANSFER_POINTS)
      throw new Error(`order ${p.order.id}: award ${p.awarded} is not a movable amount`)
  }
  const userIds = [...new Set(credits.map((p) => p.order.userId))].sort((a, b) => a - b)
  const locked = await selectRows<{ id: Numeric; ownerId: Numeric; balance: Numeric; lastSeq: Numeric }>(
    tx,
    sql`SELECT id, owner_id AS ownerId, balance, last_seq AS lastSeq FROM accounts
        WHERE kind = 'USER' AND owner_id IN (${list(userIds)}) ORDER BY owner_id FOR UPDATE`,
  )
  if (locked.length !== userIds.length) throw new Error('payment batch: a user account is missing')
  const accounts = new Map(
    locked.map((a) => [
      Number(a.ownerId),
      {
        id: Number(a.id),
        balance: Number(a.balance),
        lastSeq: Number(a.lastSeq),
        firstSeq: Number(a.lastSeq),
        earned: 0,
      },
    ]),
  )
  const issuance = new Map<number, number>()
  for (const m of new Set(credits.map((p) => p.order.merchantId)))
    issuance.set(m, await ensureAccount(tx, merchantIssuance(m), now))

  const key = (p: Paying) => `EARN:${p.order.id}`
  await writeRows(
    tx,
    sql`INSERT INTO transfers
          (business_key, kind, debit_account_id, credit_account_id, points, merchant_id, ref_id, created_at)
        VALUES ${sql.join(
          credits.map(
            (p) =>
              sql`(${key(p)}, 'EARN', ${issuance.get(p.order.merchantId)}, ${accounts.get(p.order.userId)!.id},
                   ${p.awarded}, ${p.order.merchantId}, ${String(p.order.id)}, ${now})`,
          ),
          sql`, `,
        )}`,
  )
  // Not insertId + i: auto-increment values of one statement need not be consecutive everywhere.
  const inserted = await selectRows<{ id: Numeric; businessKey: string }>(
    tx,
    sql`SELECT id, business_key AS businessKey FROM transfers WHERE business_key IN (${sql.join(
      credits.map((p) => sql`${key(p)}`),
      sql`, `,
    )})`,
  )
  const transferOf = new Map(inserted.map((t) => [t.businessKey, Number(t.id)]))

  const entries: ReturnType<typeof sql>[] = []
  const lots: NewLot[] = []
  for (const p of credits) {
    const acct = accounts.get(p.order.userId)!
    const transferId = transferOf.get(key(p))!
    const refId = String(p.order.id)
    const m = p.order.merchantId
    const lot = freshLotOf(acct.balance, p.awarded, now)
    if (lot) lots.push({ accountId: acct.id, transferId, ...lot })
    acct.balance += p.awarded
    acct.lastSeq += 1
    acct.earned += p.awarded
    entries.push(
      sql`(${issuance.get(m)}, ${transferId}, NULL, ${-p.awarded}, NULL, 'EARN', ${refId}, ${m}, ${now})`,
      sql`(${acct.id}, ${transferId}, ${acct.lastSeq}, ${p.awarded}, ${acct.balance}, 'EARN', ${refId}, ${m}, ${now})`,
    )
  }
  await writeRows(
    tx,
    sql`INSERT INTO ledger_entries
          (account_id, transfer_id, seq, delta, balance_after, kind, ref_id, merchant_id, created_at)
        VALUES ${sql.join(entries, sql`, `)}`,
  )
  const touched = [...accounts.values()]
  const byId = (value: (a: (typeof touched)[number]) => number) =>
    sql`CASE id ${sql.join(
      touched.map((a) => sql`WHEN ${a.id} THEN ${value(a)}`),
      sql` `,
    )} END`
  const res = await writeRows(
    tx,
    sql`UPDATE accounts SET balance = ${byId((a) => a.balance)}, last_seq = ${byId((a) => a.lastSeq)},
          total_earned = total_earned + ${byId((a) => a.earned)}
        WHERE id IN (${list(touched.map((a) => a.id))}) AND last_seq = ${byId((a) => a.firstSeq)}`,
  )
  // The rows are locked, so this can only fail if the lock discipline was broken: stop loudly.
  if (res.affectedRows !== touched.length)
    throw new Error(`ledger invariant: ${touched.length - res.affectedRows} accounts moved under their lock`)
  await insertLots(tx, lots, now)

  const template = deps.config.WECHAT_TEMPLATE_POINTS_EARNED
  if (!template) return
  const shops = await tx
    .select({ id: merchants.id, name: merchants.name })
    .from(merchants)
    .where(inArray(merchants.id, [...issuance.keys()]))
  const nameOf = new Map(shops.map((s) => [s.id, s.name]))
  await enqueuePointsEarned(
    tx,
    template,
    credits.map((p) => ({
      orderId: p.order.id,
      userId: p.order.userId,
      merchantName: nameOf.get(p.order.merchantId) ?? '',
      points: p.awarded,
      at: now,
    })),
  )
}

/** The batch's one transaction; answers each payment, or leaves it for the lone path. */
function writeBatch(deps: PaymentDeps, txns: PayTransaction[]): Promise<BatchAnswer[]> {
  return runTx(deps.db.primary, async (tx) => {
    const locked = await lockOrders(tx, [...new Set(txns.map((t) => t.outTradeNo))].sort())
    const orders = new Map(locked.map((o) => [o.outTradeNo, o]))
    // Duplicates within the batch see the first one's effect, as if they came one after another.
    const settled = new Set<string>()
    const now = new Date()
    const paying: Paying[] = []
    const answers = txns.map((txn): BatchAnswer | Paying => {
      const order = orders.get(txn.outTradeNo)
      const mismatch = mismatchOf(order, txn)
      if (mismatch || !order) return mismatch ?? { outcome: 'rejected', why: 'no such order' }
      if (settled.has(order.outTradeNo) || !PAYABLE.includes(order.status)) return { outcome: 'already_paid' }
      if (order.status !== 'PENDING' || order.redeemReturned > 0) return undefined
      settled.add(order.outTradeNo)
      const p = {
        order,
        txn,
        paidAt: paidAtOf(txn),
        points: pointsForOrder(ruleOfOrder(order), order.payableFen),
        awarded: 0,
      }
      paying.push(p)
      return p
    })
    await countDailyAwards(tx, paying)
    const credits = paying.filter((p) => p.awarded > 0)
    if (credits.length > 0) await creditAwards(deps, tx, credits, now)
    await markPaidMany(
      tx,
      paying.map((p) => ({
        order: p.order,
        pointsAwarded: p.awarded,
        transactionId: p.txn.transactionId ?? null,
        paidAt: p.paidAt,
      })),
      now,
    )
    return answers.map((a): BatchAnswer => {
      if (a === undefined || !('order' in a)) return a
      return { outcome: 'paid', awarded: a.awarded, retaken: 0 }
    })
  })
}

const settle = (work: Promise<Applied>) =>
  work.then(
    (value): PromiseSettledResult<Applied> => ({ status: 'fulfilled', value }),
    (reason): PromiseSettledResult<Applied> => ({ status: 'rejected', reason }),
  )

/**
 * Applies payments that arrived together; one settled result per payment, in order. Appid, mchid
 * and currency are checked before (applyPayment).
 */
export async function applyPaymentBatch(
  deps: PaymentDeps,
  txns: PayTransaction[],
): Promise<Array<PromiseSettledResult<Applied>>> {
  if (txns.length === 1) return [await settle(applyOne(deps, txns[0]!))]
  let answers: BatchAnswer[]
  try {
    answers = await writeBatch(deps, txns)
    deps.metrics.paymentBatches.inc({ result: 'committed' })
    deps.metrics.paymentsBatched.inc(answers.filter((a) => a !== undefined).length)
  } catch (err) {
    deps.metrics.paymentBatches.inc({ result: 'failed' })
    deps.log.warn('payment batch failed; applying its payments one by one', {
      payments: txns.length,
      error: err instanceof Error ? err.message : String(err),
    })
    answers = txns.map(() => undefined)
  }
  // Left for the lone path: one after another, so duplicates among them answer as they would alone.
  const results: Array<PromiseSettledResult<Applied>> = []
  for (const [i, txn] of txns.entries()) {
    const answer = answers[i]
    results.push(answer ? { status: 'fulfilled', value: answer } : await settle(applyOne(deps, txn)))
  }
  return results
}
