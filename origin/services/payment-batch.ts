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
import {
  type BatchAccount,
  type BatchCredit,
  batchAccountsOf,
  creditEntriesStatements,
  insertTransfersStatement,
  knownSystemAccount,
  lockUserAccountsStatement,
  merchantIssuance,
  rememberSystemAccount,
  transferIdsStatement,
} from './ledger.ts'
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

/** Per item: its answer, or `undefined` when it is to be applied on its own after the commit. */
type BatchAnswer = Applied | undefined

type Rows = Array<Record<string, unknown>>

/** Statements for one round trip, each added with the position its result will have. */
function roundTrip() {
  const statements: string[] = []
  return { statements, add: (statement: string) => statements.push(statement) - 1 }
}

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
 * and the payers' accounts, locked; the merchants' issuance accounts; and what the message to each
 * payer needs. Sets each award. Returns the statement that adds the capped awards, for round trip 3.
 */
async function lockTotalsAndAccounts(
  send: SendStatements,
  paying: Paying[],
  withMessages: boolean,
  now: Date,
): Promise<{
  accounts: Map<number, BatchAccount>
  issuance: Map<number, number>
  openids: Map<number, string>
  shops: Map<number, string>
  cappedAdd?: string
}> {
  const earning = paying.filter((p) => p.points > 0)
  const accounts = new Map<number, BatchAccount>()
  const issuance = new Map<number, number>()
  const openids = new Map<number, string>()
  const shops = new Map<number, string>()
  if (earning.length === 0) return { accounts, issuance, openids, shops }

  const keys = [...new Map(earning.map((p) => [dayId(dayKeyOf(p)), dayKeyOf(p)])).values()].sort(
    (a, b) => a.userId - b.userId || a.merchantId - b.merchantId || a.day.localeCompare(b.day),
  )
  const capped = earning.some((p) => p.order.ruleDailyCapPerUser !== null)
  const trip = roundTrip()
  let totals: number | undefined
  if (capped) {
    // A cap needs today's totals under a lock: create the missing rows (locking all), then read them.
    trip.add(addToDailyTotals(keys, () => 0))
    totals = trip.add(
      formatStatement(
        `SELECT user_id AS userId, merchant_id AS merchantId, DATE_FORMAT(day, '%Y-%m-%d') AS day, points
         FROM daily_awards WHERE ${keys.map(() => '(user_id = ? AND merchant_id = ? AND day = ?)').join(' OR ')}
         FOR UPDATE`,
        keys.flatMap((k) => [k.userId, k.merchantId, k.day]),
      ),
    )
  } else {
    for (const p of earning) p.awarded = p.points
    const sum = new Map<string, number>()
    for (const p of earning) sum.set(dayId(dayKeyOf(p)), (sum.get(dayId(dayKeyOf(p))) ?? 0) + p.points)
    trip.add(addToDailyTotals(keys, (k) => sum.get(dayId(k))!))
  }
  const userIds = [...new Set(earning.map((p) => p.order.userId))]
  const merchantIds = [...new Set(earning.map((p) => p.order.merchantId))]
  const locked = trip.add(lockUserAccountsStatement(userIds))
  for (const m of merchantIds) {
    const known = knownSystemAccount(merchantIssuance(m))
    if (known !== undefined) issuance.set(m, known)
  }
  const unknownMerchants = merchantIds.filter((m) => !issuance.has(m))
  // Created if missing on this connection: another connection could wait for a pool slot held by
  // a payment waiting on this batch's locks.
  const created =
    unknownMerchants.length > 0
      ? trip.add(
          formatStatement('INSERT IGNORE INTO accounts (kind, owner_id, created_at) VALUES ?', [
            unknownMerchants.map((m) => ['MERCHANT_ISSUANCE', m, now]),
          ]),
        )
      : undefined
  const issuers =
    unknownMerchants.length > 0
      ? trip.add(
          formatStatement(
            "SELECT id, owner_id AS ownerId FROM accounts WHERE kind = 'MERCHANT_ISSUANCE' AND owner_id IN (?)",
            [unknownMerchants],
          ),
        )
      : undefined
  const payers = withMessages
    ? trip.add(formatStatement('SELECT id, openid FROM users WHERE id IN (?)', [userIds]))
    : undefined
  const merchantNames = withMessages
    ? trip.add(formatStatement('SELECT id, name FROM merchants WHERE id IN (?)', [merchantIds]))
    : undefined

  const results = await send(trip.statements)
  for (const [ownerId, account] of batchAccountsOf(results[locked] as Rows)) accounts.set(ownerId, account)
  if (accounts.size !== userIds.length) throw new Error('payment batch: a user account is missing')
  if (issuers !== undefined) {
    // Remembered only if none was created here: this transaction may yet roll back.
    const createdNone = (results[created!] as ResultSetHeader).affectedRows === 0
    for (const a of results[issuers] as Rows) {
      issuance.set(Number(a.ownerId), Number(a.id))
      if (createdNone) rememberSystemAccount(merchantIssuance(Number(a.ownerId)), Number(a.id))
    }
    if (unknownMerchants.some((m) => !issuance.has(m)))
      throw new Error('payment batch: an issuance account could not be created')
  }
  if (payers !== undefined)
    for (const u of results[payers] as Rows) openids.set(Number(u.id), String(u.openid))
  if (merchantNames !== undefined)
    for (const m of results[merchantNames] as Rows) shops.set(Number(m.id), String(m.name))
  if (totals === undefined) return { accounts, issuance, openids, shops }

  const today = new Map(
    (results[totals] as Rows).map((r) => [
      dayId({ userId: Number(r.userId), merchantId: Number(r.merchantId), day: String(r.day) }),
      Number(r.points),
    ]),
  )
  const delta = new Map<string, number>()
  for (const p of earning) {
    const k = dayId(dayKeyOf(p))
    const before = today.get(k)
    if (before === undefined) throw new Error(`daily total ${k} not locked`)
    p.awarded = capByDailyLimit(p.points, p.order.ruleDailyCapPerUser, before)
    today.set(k, before + p.awarded)
    if (p.awarded > 0) delta.set(k, (delta.get(k) ?? 0) + p.awarded)
  }
  const grown = keys.filter((k) => delta.has(dayId(k)))
  const cappedAdd = grown.length > 0 ? addToDailyTotals(grown, (k) => delta.get(dayId(k))!) : undefined
  return { accounts, issuance, openids, shops, cappedAdd }
}

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
      const { accounts, issuance, openids, shops, cappedAdd } = await lockTotalsAndAccounts(
        send,
        paying,
        template !== undefined,
        now,
      )
      const earned = paying.filter((p) => p.awarded > 0)
      const credits = earned.map(
        (p): BatchCredit => ({
          businessKey: `EARN:${p.order.id}`,
          kind: 'EARN',
          debitAccountId: issuance.get(p.order.merchantId)!,
          userId: p.order.userId,
          points: p.awarded,
          merchantId: p.order.merchantId,
          refId: String(p.order.id),
        }),
      )
      // Round trip 4 (and 3 first when anything is credited): the orders, the ledger, the messages.
      const last = roundTrip()
      const marked = last.add(
        markPaidManyStatement(
          paying.map((p) => ({
            order: p.order,
            pointsAwarded: p.awarded,
            transactionId: p.txn.transactionId ?? null,
            paidAt: p.paidAt,
          })),
          now,
        ),
      )
      let balances: { at: number; expected: number } | undefined
      if (credits.length > 0) {
        // Round trip 3: the capped awards' totals, the transfers, and their ids.
        const third = roundTrip()
        if (cappedAdd) third.add(cappedAdd)
        third.add(insertTransfersStatement(credits, accounts, now))
        const ids = third.add(transferIdsStatement(credits))
        const written = (await send(third.statements))[ids] as Rows
        const ledger = creditEntriesStatements(credits, accounts, written, now)
        last.add(ledger.entries)
        balances = { at: last.add(ledger.balances), expected: ledger.accountsCredited }
        if (ledger.lots) last.add(ledger.lots)
        const message =
          template &&
          pointsEarnedStatement(
            template,
            earned.map((p) => ({
              orderId: p.order.id,
              userId: p.order.userId,
              merchantName: shops.get(p.order.merchantId) ?? '',
              points: p.awarded,
              at: now,
            })),
            openids,
          )
        if (message) last.add(message)
      }
      const results = (await send(last.statements)) as ResultSetHeader[]
      if (results[marked]!.affectedRows !== paying.length)
        throw new Error(
          `payment batch: ${results[marked]!.affectedRows} of ${paying.length} orders marked paid`,
        )
      // The rows are locked, so this can only fail if the lock discipline was broken: stop loudly.
      if (balances && results[balances.at]!.affectedRows !== balances.expected)
        throw new Error(
          `ledger invariant: ${balances.expected - results[balances.at]!.affectedRows} accounts moved under their lock`,
        )
    }
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
