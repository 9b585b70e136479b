/**
 * Reconciliation against WeChat Pay's trade bill for one Asia/Shanghai day (API.md §13): download
 * (signed tradebill, then the signed download), verify SHA-1, parse exactly, compare with local
 * orders and refunds, apply payments WeChat has and we still hold PENDING exactly as a notification
 * would, and store the report. A run claims the day's row first, so concurrent runs give one result;
 * a run again finds those orders PAID and fixes nothing twice.
 */
import { and, eq, gte, inArray, lt, sql } from 'drizzle-orm'
import type { z } from 'zod'
import { orders, reconciliations, refunds } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import type { ReconciliationReport as ReconciliationReportSchema } from '../../shared/schemas.ts'
import { runTx, selectRows, writeRows } from '../db/client.ts'
import { WechatPayError } from '../wechat/errors.ts'
import type { PayTransaction } from '../wechat/pay-resources.ts'
import {
  BillParseError,
  type BillPayment,
  parseTradeBill,
  sha1Hex,
  type TradeBill,
} from '../wechat/trade-bill.ts'
import { recordAudit } from './audit.ts'
import { shanghaiDay } from './award-rule.ts'
import { applyPayment } from './order-payment.ts'
import type { PaymentDeps } from './payment-deps.ts'

export type MismatchKind = 'MISSING_LOCAL' | 'MISSING_REMOTE' | 'AMOUNT' | 'STATE'
export const MISMATCH_KINDS: MismatchKind[] = ['MISSING_LOCAL', 'MISSING_REMOTE', 'AMOUNT', 'STATE']

type Totals = ReconciliationReport['wechat']
export type ReconciliationReport = z.infer<typeof ReconciliationReportSchema>

const NO_TOTALS: Totals = { payments: 0, paidFen: 0, refunds: 0, refundedFen: 0 }
/** A RUNNING claim older than this belongs to a crashed run and may be taken over. */
const STALE_CLAIM_MS = 10 * 60_000
const WAIT_FOR_OTHER_RUN_MS = 60_000
const DAILY_AFTER_HOUR = 10
const RETRY_FAILED_AFTER_MS = 60 * 60_000

export const isBillDate = (date: string) =>
  /^\d{4}-\d{2}-\d{2}$/.test(date) && shanghaiDay(new Date(`${date}T12:00:00+08:00`)) === date

function failed(date: string, error: ReconciliationReport['error']): ReconciliationReport {
  return {
    date,
    status: 'FAILED',
    wechat: NO_TOTALS,
    local: NO_TOTALS,
    matched: 0,
    fixed: [],
    mismatches: [],
    error,
  }
}

function dayBounds(date: string): { start: Date; end: Date } {
  const start = new Date(`${date}T00:00:00+08:00`)
  return { start, end: new Date(start.getTime() + 24 * 3600_000) }
}

/** The bill row as the transaction a notification would carry. */
function transactionOf(row: BillPayment, appid: string): PayTransaction {
  return {
    appid: row.appid || appid,
    mchid: row.mchid,
    // Direct-merchant bills fill 特约商户号 with 0.
    subMchid: row.subMchid && row.subMchid !== '0' ? row.subMchid : undefined,
    outTradeNo: row.outTradeNo,
    tradeState: 'SUCCESS',
    transactionId: row.transactionId || undefined,
    amountTotalFen: row.settlementFen,
    currency: 'CNY',
    successTime: `${row.tradeTime.replace(' ', 'T')}+08:00`,
  }
}

async function localTotals(deps: PaymentDeps, date: string) {
  const { start, end } = dayBounds(date)
  const paid = await deps.db.primary
    .select({ outTradeNo: orders.outTradeNo, amountFen: orders.payableFen })
    .from(orders)
    .where(
      and(
        gte(orders.paidAt, start),
        lt(orders.paidAt, end),
        inArray(orders.status, ['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED']),
      ),
    )
  // A refund's success is when its row last changed (it changes no more once SUCCESS).
  const refunded = await deps.db.primary
    .select({ outRefundNo: refunds.outRefundNo, amountFen: refunds.amountFen, outTradeNo: orders.outTradeNo })
    .from(refunds)
    .innerJoin(orders, eq(orders.id, refunds.orderId))
    .where(and(eq(refunds.status, 'SUCCESS'), gte(refunds.updatedAt, start), lt(refunds.updatedAt, end)))
  return {
    paid,
    refunded,
    totals: {
      payments: paid.length,
      paidFen: paid.reduce((s, o) => s + o.amountFen, 0),
      refunds: refunded.length,
      refundedFen: refunded.reduce((s, r) => s + r.amountFen, 0),
    },
  }
}

async function compare(deps: PaymentDeps, date: string, bill: TradeBill): Promise<ReconciliationReport> {
  const payments = bill.rows.filter((r) => r.state === 'SUCCESS')
  const billRefunds = bill.rows.filter((r) => r.state === 'REFUND')
  const report: ReconciliationReport = {
    date,
    status: 'DONE',
    wechat: {
      payments: payments.length,
      paidFen: payments.reduce((s, r) => s + r.settlementFen, 0),
      refunds: billRefunds.length,
      refundedFen: billRefunds.reduce((s, r) => s + r.refundFen, 0),
    },
    local: NO_TOTALS,
    matched: 0,
    fixed: [],
    mismatches: [],
  }
  const before = await localTotals(deps, date)
  const tradeNos = [...new Set(bill.rows.map((r) => r.outTradeNo))]
  const known = new Map<string, { amountFen: number; status: string }>()
  for (let i = 0; i < tradeNos.length; i += 500) {
    const chunk = tradeNos.slice(i, i + 500)
    for (const o of await deps.db.primary
      .select({ outTradeNo: orders.outTradeNo, amountFen: orders.payableFen, status: orders.status })
      .from(orders)
      .where(inArray(orders.outTradeNo, chunk)))
      known.set(o.outTradeNo, o)
  }
  for (const row of payments) {
    const local = known.get(row.outTradeNo)
    const mismatch = (kind: MismatchKind, detail: string) =>
      report.mismatches.push({ kind, outTradeNo: row.outTradeNo, detail })
    if (!local) mismatch('MISSING_LOCAL', `paid at WeChat (${row.settlementFen} fen), no such local order`)
    else if (local.amountFen !== row.settlementFen)
      mismatch('AMOUNT', `WeChat ${row.settlementFen} fen, local ${local.amountFen} fen`)
    else if (local.status === 'CLOSED') mismatch('STATE', 'paid at WeChat, CLOSED locally')
    else if (local.status === 'PENDING') {
      const outcome = await applyPayment(deps, transactionOf(row, deps.config.WECHAT_APPID), 'bill')
      if (outcome === 'paid') report.fixed.push({ outTradeNo: row.outTradeNo, action: 'APPLIED_PAYMENT' })
      else if (outcome === 'already_paid') report.matched++
      else mismatch('STATE', 'the bill row does not match its order (appid, mchid or sub_mchid)')
    } else report.matched++
  }
  const billed = new Set(payments.map((r) => r.outTradeNo))
  for (const o of before.paid) {
    if (!billed.has(o.outTradeNo))
      report.mismatches.push({
        kind: 'MISSING_REMOTE',
        outTradeNo: o.outTradeNo,
        detail: `PAID locally (${o.amountFen} fen), not in the bill`,
      })
  }
  const localRefunds = new Map<string, { amountFen: number; status: string }>()
  const refundNos = billRefunds.map((r) => r.outRefundNo)
  for (let i = 0; i < refundNos.length; i += 500) {
    for (const r of await deps.db.primary
      .select({ outRefundNo: refunds.outRefundNo, amountFen: refunds.amountFen, status: refunds.status })
      .from(refunds)
      .where(inArray(refunds.outRefundNo, refundNos.slice(i, i + 500))))
      localRefunds.set(r.outRefundNo, r)
  }
  for (const row of billRefunds) {
    const local = localRefunds.get(row.outRefundNo)
    const mismatch = (kind: MismatchKind, detail: string) =>
      report.mismatches.push({ kind, outTradeNo: row.outTradeNo, outRefundNo: row.outRefundNo, detail })
    if (!local) mismatch('MISSING_LOCAL', `refunded at WeChat (${row.refundFen} fen), no such local refund`)
    else if (local.amountFen !== row.refundFen)
      mismatch('AMOUNT', `WeChat refunded ${row.refundFen} fen, local ${local.amountFen} fen`)
    else if ((row.refundStatus === '' || row.refundStatus === 'SUCCESS') !== (local.status === 'SUCCESS'))
      mismatch('STATE', `refund ${row.refundStatus || 'SUCCESS'} at WeChat, ${local.status} locally`)
    else report.matched++
  }
  const billedRefunds = new Set(refundNos)
  for (const r of before.refunded) {
    if (!billedRefunds.has(r.outRefundNo))
      report.mismatches.push({
        kind: 'MISSING_REMOTE',
        outTradeNo: r.outTradeNo,
        outRefundNo: r.outRefundNo,
        detail: `refunded locally (${r.amountFen} fen), not in the bill`,
      })
  }
  report.local = report.fixed.length > 0 ? (await localTotals(deps, date)).totals : before.totals
  return report
}

async function reconcile(deps: PaymentDeps, date: string): Promise<ReconciliationReport> {
  const info = await deps.pay.tradeBill(date)
  const bytes = await deps.pay.downloadBill(info.downloadUrl)
  if (info.hashType.toUpperCase() !== 'SHA1' || sha1Hex(bytes) !== info.hashValue.toLowerCase()) {
    return failed(date, { message: `the bill's SHA-1 does not match hash_value (${info.hashType})` })
  }
  let bill: TradeBill
  try {
    bill = parseTradeBill(bytes.toString('utf8'))
  } catch (err) {
    if (err instanceof BillParseError) return failed(date, { message: err.message, line: err.line })
    throw err
  }
  if (bill.totals.count !== null && bill.totals.count !== bill.rows.length) {
    deps.log.warn('trade bill totals row disagrees with its rows', { date, totals: bill.totals.count })
  }
  return compare(deps, date, bill)
}

/** Takes the day's row for this run; false while another run holds it. */
async function claim(deps: PaymentDeps, date: string, now: Date): Promise<boolean> {
  const inserted = await writeRows(
    deps.db.primary,
    sql`INSERT IGNORE INTO reconciliations (bill_date, status, started_at) VALUES (${date}, 'RUNNING', ${now})`,
  )
  if (inserted.affectedRows === 1) return true
  const taken = await writeRows(
    deps.db.primary,
    sql`UPDATE reconciliations SET status = 'RUNNING', started_at = ${now}, finished_at = NULL
        WHERE bill_date = ${date}
          AND (status <> 'RUNNING' OR started_at < ${new Date(now.getTime() - STALE_CLAIM_MS)})`,
  )
  return taken.affectedRows === 1
}

export async function getReconciliation(
  deps: PaymentDeps,
  date: string,
): Promise<ReconciliationReport | null> {
  const [row] = await deps.db.primary.select().from(reconciliations).where(eq(reconciliations.billDate, date))
  return row?.status === 'RUNNING' || !row?.report ? null : (row.report as ReconciliationReport)
}

async function waitForOtherRun(deps: PaymentDeps, date: string): Promise<ReconciliationReport> {
  const deadline = Date.now() + WAIT_FOR_OTHER_RUN_MS
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100))
    const [row] = await deps.db.primary
      .select({ status: reconciliations.status, report: reconciliations.report })
      .from(reconciliations)
      .where(eq(reconciliations.billDate, date))
    if (row && row.status !== 'RUNNING' && row.report) return row.report as ReconciliationReport
  }
  throw new AppError('ORIGIN_UNAVAILABLE', `the reconciliation of ${date} is still running; ask again later`)
}

function record(deps: PaymentDeps, report: ReconciliationReport) {
  deps.metrics.reconciliationRuns.inc({ status: report.status })
  if (report.status !== 'DONE') return
  for (const kind of MISMATCH_KINDS) {
    deps.metrics.reconciliationMismatches.set(
      { kind },
      report.mismatches.filter((m) => m.kind === kind).length,
    )
  }
}

/** Runs the day now, or waits for the run already under way and answers its result. */
export async function runReconciliation(
  deps: PaymentDeps,
  date: string,
  actor: { adminUserId: number } | null,
): Promise<ReconciliationReport> {
  const now = new Date()
  if (!(await claim(deps, date, now))) return waitForOtherRun(deps, date)
  return runClaimed(deps, date, actor, now)
}

async function runClaimed(
  deps: PaymentDeps,
  date: string,
  actor: { adminUserId: number } | null,
  now: Date,
): Promise<ReconciliationReport> {
  let report: ReconciliationReport
  let providerError: WechatPayError | null = null
  try {
    report = await reconcile(deps, date)
  } catch (err) {
    if (!(err instanceof WechatPayError)) {
      await deps.db.primary
        .update(reconciliations)
        .set({
          status: 'FAILED',
          report: failed(date, { message: 'internal error' }),
          finishedAt: new Date(),
        })
        .where(eq(reconciliations.billDate, date))
      throw err
    }
    providerError = err
    report = failed(date, { message: `WeChat Pay did not give the bill: ${err.code}` })
  }
  await runTx(deps.db.primary, async (tx) => {
    await tx
      .update(reconciliations)
      .set({ status: report.status, report, finishedAt: new Date() })
      .where(eq(reconciliations.billDate, date))
    if (actor) {
      await recordAudit(
        tx,
        {
          actorUserId: actor.adminUserId,
          actorRole: 'admin',
          action: 'reconciliation.run',
          targetType: 'reconciliation',
          targetId: date,
          details: {
            status: report.status,
            fixed: report.fixed.length,
            mismatches: report.mismatches.length,
          },
        },
        now,
      )
    }
  })
  record(deps, report)
  if (providerError) {
    throw new AppError('PAYMENT_PROVIDER_ERROR', `WeChat Pay did not give the bill: ${providerError.code}`, {
      provider: 'wechatpay',
      code: providerError.code,
    })
  }
  return report
}

/** The daily job: yesterday's bill, once it is out (after 10:00 Asia/Shanghai); a FAILED day again hourly. */
export async function reconcileYesterday(deps: PaymentDeps, now: Date): Promise<number> {
  const shanghaiHour = new Date(now.getTime() + 8 * 3600_000).getUTCHours()
  if (shanghaiHour < DAILY_AFTER_HOUR) return 0
  const date = shanghaiDay(new Date(now.getTime() - 24 * 3600_000))
  const [row] = await selectRows<{ status: string; finishedAt: Date | null }>(
    deps.db.primary,
    sql`SELECT status, finished_at AS finishedAt FROM reconciliations WHERE bill_date = ${date}`,
  )
  if (row && row.status !== 'FAILED') return 0
  if (row?.finishedAt && now.getTime() - new Date(row.finishedAt).getTime() < RETRY_FAILED_AFTER_MS) return 0
  // Another instance's run is as good as this one's: no waiting here.
  if (!(await claim(deps, date, now))) return 0
  await runClaimed(deps, date, null, now)
  return 1
}
