/**
 * Payments applied in batches (group commit, issue 16): one transaction for every payment that
 * arrived together, with one multi-row statement per table, sent four round trips at a time
 * (`runBatchTx`) instead of ten round trips per award.
 *
 * Exactly-once is the lone path's: each order is locked and its status checked under the lock, the
 * award's business key EARN:<orderId> is unique, and the whole batch commits or none of it does.
 * Locks are taken table by table in the order the lone path takes them (orders, daily totals, user
 * accounts), each table's rows in key order, so batches running side by side never wait on each
 * other in a cycle; a deadlock with anything else retries the batch.
 *
 * A payment that is not a plain PENDING → PAID (a CLOSED order, whose redeemed points a close gave
 * back) is applied on its own after the batch commits. If the batch fails for any other reason,
 * nothing of it was written, and every payment is applied on its own, so one bad payment fails
 * alone and the rest go through.
 */
import type { ResultSetHeader } from 'mysql2'
import { formatStatement, runBatchTx, type SendStatements } from '../db/client.ts'
import type { PayTransaction } from '../wechat/pay-resources.ts'
import { capByDailyLimit, pointsForOrder, shanghaiDay } from './award-rule.ts'
import { knownSystemAccount, MAX_TRANSFER_POINTS, merchantIssuance, rememberSystemAccount } from './ledger.ts'
import { freshLotOf, insertLotsStatement, type NewLot } from './lots.ts'
import { applyOne, mismatchOf, paidAtOf, ruleOfOrder } from './order-payment.ts'
import {
  type BatchOrder,
  batchOrderOf,
  lockOrdersStatement,
  markPaidManyStatement,
  PAYABLE,
} from './order-state.ts'
import { pointsEarnedStatement } from './outbox.ts'
import type { Applied } from './payment-applied.ts'
import type { PaymentDeps } from './payment-deps.ts'

interface Paying {
  order: BatchOrder
  txn: PayTransaction
  paidAt: Date
  /** Before the daily cap. */
  points: number
  /** What the cap allows: the award. */
  awarded: number
}

interface Account {
  id: number
  balance: number
  lastSeq: number
  firstSeq: number
  earned: number
}

/** Per item: its answer, or `undefined` when it is to be applied on its own after the commit. */
type BatchAnswer = Applied | undefined

type Rows = Array<Record<string, unknown>>

interface DayKey {
  userId: number
  merchantId: number
  day: string
}
const dayKeyOf = (p: Paying): DayKey => ({
  userId: p.order.userId,
  merchantId: p.order.merchantId,
  day: shanghaiDay(p.paidAt),
})
const dayId = (k: DayKey) => `${k.userId}|${k.merchantId}|${k.day}`

const addToDailyTotals = (keys: DayKey[], delta: (k: DayKey) => number) =>
  formatStatement(
    'INSERT INTO daily_awards (user_id, merchant_id, day, points) VALUES ? ON DUPLICATE KEY UPDATE points = points + VALUES(points)',
    [keys.map((k) => [k.userId, k.merchantId, k.day, delta(k)])],
  )

/**
 * Round trip 2: the daily totals (in primary-key order, so two batches lock shared totals alike)
 * and the payers' accounts, locked; and what the message to each payer needs. Sets each award.
 * Returns the statements that add the capped awards, for round trip 3.
 */
async function lockTotalsAndAccounts(
  send: SendStatements,
  paying: Paying[],
  withMessages: boolean,
  now: Date,
): Promise<{
  accounts: Map<number, Account>
  issuance: Map<number, number>
  openids: Map<number, string>
  shops: Map<number, string>
  cappedAdds: string[]
}> {
  const earning = paying.filter((p) => p.points > 0)
  const keys = [...new Map(earning.map((p) => [dayId(dayKeyOf(p)), dayKeyOf(p)])).values()].sort(
    (a, b) => a.userId - b.userId || a.merchantId - b.merchantId || a.day.localeCompare(b.day),
  )
  const capped = earning.some((p) => p.order.ruleDailyCapPerUser !== null)
  const statements: string[] = []
  if (keys.length > 0 && !capped) {
    for (const p of earning) p.awarded = p.points
    const sum = new Map<string, number>()
    for (const p of earning) sum.set(dayId(dayKeyOf(p)), (sum.get(dayId(dayKeyOf(p))) ?? 0) + p.points)
    statements.push(addToDailyTotals(keys, (k) => sum.get(dayId(k))!))
  }
  if (keys.length > 0 && capped) {
    // A cap needs today's totals under a lock: create the missing rows (locking all), then read them.
    statements.push(
      addToDailyTotals(keys, () => 0),
      formatStatement(
        `SELECT user_id AS userId, merchant_id AS merchantId, DATE_FORMAT(day, '%Y-%m-%d') AS day, points
         FROM daily_awards WHERE ${keys.map(() => '(user_id = ? AND merchant_id = ? AND day = ?)').join(' OR ')}
         FOR UPDATE`,
        keys.flatMap((k) => [k.userId, k.merchantId, k.day]),
      ),
    )
  }
  const userIds = [...new Set(earning.map((p) => p.order.userId))].sort((a, b) => a - b)
  const merchantIds = [...new Set(earning.map((p) => p.order.merchantId))]
  const issuance = new Map<number, number>()
  for (const m of merchantIds) {
    const known = knownSystemAccount(merchantIssuance(m))
    if (known !== undefined) issuance.set(m, known)
  }
  const unknownMerchants = merchantIds.filter((m) => !issuance.has(m))
  if (userIds.length > 0) {
    statements.push(
      formatStatement(
        `SELECT id, owner_id AS ownerId, balance, last_seq AS lastSeq FROM accounts
         WHERE kind = 'USER' AND owner_id IN (?) ORDER BY owner_id FOR UPDATE`,
        [userIds],
      ),
    )
    // The merchants' issuance accounts, created if missing, on this connection: another
    // connection could wait for a pool slot held by a payment waiting on this batch's locks.
    if (unknownMerchants.length > 0)
      statements.push(
        formatStatement('INSERT IGNORE INTO accounts (kind, owner_id, created_at) VALUES ?', [
          unknownMerchants.map((m) => ['MERCHANT_ISSUANCE', m, now]),
        ]),
        formatStatement(
          "SELECT id, owner_id AS ownerId FROM accounts WHERE kind = 'MERCHANT_ISSUANCE' AND owner_id IN (?)",
          [unknownMerchants],
        ),
      )
    if (withMessages) {
      statements.push(
        formatStatement('SELECT id, openid FROM users WHERE id IN (?)', [userIds]),
        formatStatement('SELECT id, name FROM merchants WHERE id IN (?)', [merchantIds]),
      )
    }
  }
  const accounts = new Map<number, Account>()
  const openids = new Map<number, string>()
  const shops = new Map<number, string>()
  if (statements.length === 0) return { accounts, issuance, openids, shops, cappedAdds: [] }
  const results = await send(statements)
  let next = 0
  const cappedAdds: string[] = []
  if (capped) {
    next = 1
    const today = new Map(
      (results[next++] as Rows).map((r) => [
        dayId({ userId: Number(r.userId), merchantId: Number(r.merchantId), day: String(r.day) }),
        Number(r.points),
      ]),
    )
    for (const k of keys) if (!today.has(dayId(k))) throw new Error(`daily total ${dayId(k)} not locked`)
    const delta = new Map<string, number>()
    for (const p of earning) {
      const k = dayId(dayKeyOf(p))
      const before = today.get(k)!
      p.awarded = capByDailyLimit(p.points, p.order.ruleDailyCapPerUser, before)
      today.set(k, before + p.awarded)
      if (p.awarded > 0) delta.set(k, (delta.get(k) ?? 0) + p.awarded)
    }
    const grown = keys.filter((k) => delta.has(dayId(k)))
    if (grown.length > 0) cappedAdds.push(addToDailyTotals(grown, (k) => delta.get(dayId(k))!))
  } else if (keys.length > 0) next = 1
  if (userIds.length > 0) {
    for (const a of results[next++] as Rows) {
      const lastSeq = Number(a.lastSeq)
      accounts.set(Number(a.ownerId), {
        id: Number(a.id),
        balance: Number(a.balance),
        lastSeq,
        firstSeq: lastSeq,
        earned: 0,
      })
    }
    if (accounts.size !== userIds.length) throw new Error('payment batch: a user account is missing')
    if (unknownMerchants.length > 0) {
      // Remembered only if none was created here: this transaction may yet roll back.
      const created = (results[next++] as ResultSetHeader).affectedRows
      for (const a of results[next++] as Rows) {
        issuance.set(Number(a.ownerId), Number(a.id))
        if (created === 0) rememberSystemAccount(merchantIssuance(Number(a.ownerId)), Number(a.id))
      }
      if (unknownMerchants.some((m) => !issuance.has(m)))
        throw new Error('payment batch: an issuance account could not be created')
    }
    if (withMessages) {
      for (const u of results[next++] as Rows) openids.set(Number(u.id), String(u.openid))
      for (const m of results[next++] as Rows) shops.set(Number(m.id), String(m.name))
    }
  }
  return { accounts, issuance, openids, shops, cappedAdds }
}

const earnKey = (p: Paying) => `EARN:${p.order.id}`

/** The batch's one transaction; answers each payment, or leaves it for the lone path. */
function writeBatch(deps: PaymentDeps, txns: PayTransaction[]): Promise<BatchAnswer[]> {
  const template = deps.config.WECHAT_TEMPLATE_POINTS_EARNED
  return runBatchTx(deps.db, async (send) => {
    // Round trip 1: lock the orders.
    const [locked] = await send([lockOrdersStatement([...new Set(txns.map((t) => t.outTradeNo))].sort())])
    const orders = new Map((locked as Rows).map((r) => [String(r.outTradeNo), batchOrderOf(r)]))
    // Duplicates within the batch see the first one's effect, as if they came one after another.
    const settled = new Set<string>()
    const now = new Date()
    const paying: Paying[] = []
    const answers = txns.map((txn): BatchAnswer | Paying => {
      const order = orders.get(txn.outTradeNo)
      if (!order) return { outcome: 'rejected', why: 'no such order' }
      const mismatch = mismatchOf(order, txn)
      if (mismatch) return mismatch
      if (settled.has(order.outTradeNo) || !PAYABLE.includes(order.status)) return { outcome: 'already_paid' }
      if (order.status !== 'PENDING' || order.redeemReturned > 0) return undefined
      settled.add(order.outTradeNo)
      const points = pointsForOrder(ruleOfOrder(order), order.payableFen)
      const p: Paying = { order, txn, paidAt: paidAtOf(txn), points, awarded: 0 }
      paying.push(p)
      return p
    })
    if (paying.length > 0) {
      const { accounts, issuance, openids, shops, cappedAdds } = await lockTotalsAndAccounts(
        send,
        paying,
        template !== undefined,
        now,
      )
      const credits = paying.filter((p) => p.awarded > 0)
      for (const p of credits) {
        if (!Number.isSafeInteger(p.awarded) || p.awarded > MAX_TRANSFER_POINTS)
          throw new Error(`order ${p.order.id}: award ${p.awarded} is not a movable amount`)
      }
      // Round trip 3: the transfers, and their ids (auto-increment values of one statement need
      // not be consecutive everywhere, so they are read back by business key).
      const transferIds = new Map<string, number>()
      if (credits.length > 0) {
        const results = await send([
          ...cappedAdds,
          formatStatement(
            `INSERT INTO transfers
               (business_key, kind, debit_account_id, credit_account_id, points, merchant_id, ref_id, created_at)
             VALUES ?`,
            [
              credits.map((p) => [
                earnKey(p),
                'EARN',
                issuance.get(p.order.merchantId),
                accounts.get(p.order.userId)!.id,
                p.awarded,
                p.order.merchantId,
                String(p.order.id),
                now,
              ]),
            ],
          ),
          formatStatement('SELECT id, business_key AS businessKey FROM transfers WHERE business_key IN (?)', [
            credits.map(earnKey),
          ]),
        ])
        for (const t of results.at(-1) as Rows) transferIds.set(String(t.businessKey), Number(t.id))
      }
      // Round trip 4: entries, balances, lots, the orders and the messages.
      const ledger =
        credits.length > 0 ? ledgerStatements(credits, accounts, issuance, transferIds, now) : undefined
      const marking = markPaidManyStatement(
        paying.map((p) => ({
          order: p.order,
          pointsAwarded: p.awarded,
          transactionId: p.txn.transactionId ?? null,
          paidAt: p.paidAt,
        })),
        now,
      )
      const message =
        template && credits.length > 0
          ? pointsEarnedStatement(
              template,
              credits.map((p) => ({
                orderId: p.order.id,
                userId: p.order.userId,
                merchantName: shops.get(p.order.merchantId) ?? '',
                points: p.awarded,
                at: now,
              })),
              openids,
            )
          : undefined
      const statements = [marking, ...(ledger?.statements ?? []), ...(message ? [message] : [])]
      const results = (await send(statements)) as ResultSetHeader[]
      if (results[0]!.affectedRows !== paying.length)
        throw new Error(`payment batch: ${results[0]!.affectedRows} of ${paying.length} orders marked paid`)
      // The rows are locked, so this can only fail if the lock discipline was broken: stop loudly.
      const moved = ledger ? results[1 + ledger.accountsUpdate]!.affectedRows : 0
      if (ledger && moved !== ledger.accountsCredited)
        throw new Error(
          `ledger invariant: ${ledger.accountsCredited - moved} accounts moved under their lock`,
        )
    }
    return answers.map((a): BatchAnswer => {
      if (a === undefined || !('order' in a)) return a
      return { outcome: 'paid', awarded: a.awarded, retaken: 0 }
    })
  })
}

/** The EARN entries, the accounts' new balances (statement `accountsUpdate`) and the lots. */
function ledgerStatements(
  credits: Paying[],
  accounts: Map<number, Account>,
  issuance: Map<number, number>,
  transferIds: Map<string, number>,
  now: Date,
): { statements: string[]; accountsUpdate: number; accountsCredited: number } {
  const entries: unknown[][] = []
  const lots: NewLot[] = []
  for (const p of credits) {
    const acct = accounts.get(p.order.userId)!
    const transferId = transferIds.get(earnKey(p))
    if (transferId === undefined) throw new Error(`payment batch: transfer ${earnKey(p)} not written`)
    const refId = String(p.order.id)
    const m = p.order.merchantId
    const lot = freshLotOf(acct.balance, p.awarded, now)
    if (lot) lots.push({ accountId: acct.id, transferId, ...lot })
    acct.balance += p.awarded
    acct.lastSeq += 1
    acct.earned += p.awarded
    entries.push(
      [issuance.get(m), transferId, null, -p.awarded, null, 'EARN', refId, m, now],
      [acct.id, transferId, acct.lastSeq, p.awarded, acct.balance, 'EARN', refId, m, now],
    )
  }
  // Locked but earning nothing (a capped award of 0): left as they are.
  const touched = [...accounts.values()].filter((a) => a.lastSeq > a.firstSeq)
  const byId = (value: (a: Account) => number) => ({
    text: `CASE id ${touched.map(() => 'WHEN ? THEN ?').join(' ')} END`,
    values: touched.flatMap((a) => [a.id, value(a)]),
  })
  const balance = byId((a) => a.balance)
  const seq = byId((a) => a.lastSeq)
  const earned = byId((a) => a.earned)
  const before = byId((a) => a.firstSeq)
  const statements = [
    formatStatement(
      `INSERT INTO ledger_entries
         (account_id, transfer_id, seq, delta, balance_after, kind, ref_id, merchant_id, created_at)
       VALUES ?`,
      [entries],
    ),
    formatStatement(
      `UPDATE accounts SET balance = ${balance.text}, last_seq = ${seq.text},
         total_earned = total_earned + ${earned.text}
       WHERE id IN (?) AND last_seq = ${before.text}`,
      [...balance.values, ...seq.values, ...earned.values, touched.map((a) => a.id), ...before.values],
    ),
  ]
  // A credit that only pays off a debt forms no lot.
  if (lots.length > 0) statements.push(insertLotsStatement(lots, now))
  return { statements, accountsUpdate: 1, accountsCredited: touched.length }
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
  let answers: BatchAnswer[]
  try {
    answers = await writeBatch(deps, txns)
    deps.metrics.paymentBatches.inc({ result: 'committed' })
    deps.metrics.paymentsBatched.inc(answers.filter((a) => a !== undefined).length)
  } catch (err) {
    deps.metrics.paymentBatches.inc({ result: 'failed' })
    deps.log.warn('payment batch failed; applying its payments one by one', {
      payments: txns.length,
      error: err instanceof Error ? err.message.slice(0, 300) : String(err),
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
