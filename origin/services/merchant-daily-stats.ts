/**
 * Merchant figures per Asia/Shanghai calendar day, for the console's chart (API.md §17). Shanghai
 * is UTC+8 all year, so a day is a fixed 24 h window and `+ INTERVAL 8 HOUR` names it exactly.
 */
import { and, eq, gte, inArray, lt, type SQL, sql } from 'drizzle-orm'
import type { MySqlColumn } from 'drizzle-orm/mysql-core'
import { orders, refunds, transfers } from '../../db/schema.ts'
import type { Db } from '../db/client.ts'

const DAY_MS = 24 * 3600 * 1000
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000

export interface DailyFigures {
  date: string
  orders: number
  paidFen: number
  refundedFen: number
  pointsIssued: number
  pointsClawedBack: number
}

/** The UTC instant at which Shanghai's day `date` (YYYY-MM-DD) begins. */
const dayStart = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) - SHANGHAI_OFFSET_MS)

const shanghaiDate = (column: MySqlColumn): SQL<string> =>
  sql<string>`DATE_FORMAT(${column} + INTERVAL 8 HOUR, '%Y-%m-%d')`

/** Every day from `from` to `to` inclusive, days without activity as zeros. */
export async function merchantDailyStats(
  db: Db,
  merchantId: number,
  range: { from: string; to: string },
): Promise<{ items: DailyFigures[] }> {
  const start = dayStart(range.from)
  const end = new Date(dayStart(range.to).getTime() + DAY_MS)
  const paidDay = shanghaiDate(orders.paidAt)
  const refundDay = shanghaiDate(refunds.updatedAt)
  const transferDay = shanghaiDate(transfers.createdAt)
  const [paid, refunded, points] = await Promise.all([
    db
      .select({
        day: paidDay,
        orders: sql<string>`COUNT(*)`,
        fen: sql<string | null>`SUM(${orders.payableFen})`,
      })
      .from(orders)
      .where(
        and(
          eq(orders.merchantId, merchantId),
          inArray(orders.status, ['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED']),
          gte(orders.paidAt, start),
          lt(orders.paidAt, end),
        ),
      )
      .groupBy(paidDay),
    db
      .select({ day: refundDay, fen: sql<string | null>`SUM(${refunds.amountFen})` })
      .from(refunds)
      .where(
        and(
          eq(refunds.merchantId, merchantId),
          eq(refunds.status, 'SUCCESS'),
          gte(refunds.updatedAt, start),
          lt(refunds.updatedAt, end),
        ),
      )
      .groupBy(refundDay),
    db
      .select({
        day: transferDay,
        kind: transfers.kind,
        points: sql<string | null>`SUM(${transfers.points})`,
      })
      .from(transfers)
      .where(
        and(
          eq(transfers.merchantId, merchantId),
          inArray(transfers.kind, ['EARN', 'MERCHANT_GRANT', 'REFUND_CLAWBACK']),
          gte(transfers.createdAt, start),
          lt(transfers.createdAt, end),
        ),
      )
      .groupBy(transferDay, transfers.kind),
  ])
  const days = new Map<string, DailyFigures>()
  for (let t = start.getTime(); t < end.getTime(); t += DAY_MS) {
    const date = new Date(t + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10)
    days.set(date, { date, orders: 0, paidFen: 0, refundedFen: 0, pointsIssued: 0, pointsClawedBack: 0 })
  }
  for (const row of paid) {
    const day = days.get(row.day)
    if (day) Object.assign(day, { orders: Number(row.orders), paidFen: Number(row.fen ?? 0) })
  }
  for (const row of refunded) {
    const day = days.get(row.day)
    if (day) day.refundedFen = Number(row.fen ?? 0)
  }
  for (const row of points) {
    const day = days.get(row.day)
    if (!day) continue
    if (row.kind === 'REFUND_CLAWBACK') day.pointsClawedBack += Number(row.points ?? 0)
    else day.pointsIssued += Number(row.points ?? 0)
  }
  return { items: [...days.values()] }
}
