/** Merchant stats over a time range, from orders, refunds and the merchant's transfers. */
import { and, eq, gte, inArray, lt, sql } from 'drizzle-orm'
import { orders, refunds, transfers } from '../../db/schema.ts'
import { type Db, type Numeric, selectRows } from '../db/client.ts'

export async function merchantStats(db: Db, merchantId: number, range: { from?: string; to?: string }) {
  const from = range.from ? new Date(range.from) : new Date(0)
  const to = range.to ? new Date(range.to) : new Date(Date.now() + 1000)
  const [[paid], [refunded], points, [redeemed]] = await Promise.all([
    db
      .select({
        orders: sql<string>`COUNT(*)`,
        paidFen: sql<string | null>`SUM(${orders.payableFen})`,
        customers: sql<string>`COUNT(DISTINCT ${orders.userId})`,
      })
      .from(orders)
      .where(
        and(
          eq(orders.merchantId, merchantId),
          inArray(orders.status, ['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED']),
          gte(orders.paidAt, from),
          lt(orders.paidAt, to),
        ),
      ),
    db
      .select({ fen: sql<string | null>`SUM(${refunds.amountFen})` })
      .from(refunds)
      .where(
        and(
          eq(refunds.merchantId, merchantId),
          eq(refunds.status, 'SUCCESS'),
          gte(refunds.updatedAt, from),
          lt(refunds.updatedAt, to),
        ),
      ),
    db
      .select({ kind: transfers.kind, points: sql<string | null>`SUM(${transfers.points})` })
      .from(transfers)
      .where(
        and(
          eq(transfers.merchantId, merchantId),
          inArray(transfers.kind, ['EARN', 'MERCHANT_GRANT', 'REFUND_CLAWBACK']),
          gte(transfers.createdAt, from),
          lt(transfers.createdAt, to),
        ),
      )
      .groupBy(transfers.kind),
    // A redemption's fen per point is its order's discountFen / redeemPoints (exact by construction).
    selectRows<{ points: Numeric | null; fen: Numeric | null }>(
      db,
      sql`SELECT SUM(IF(t.kind = 'REDEEM', t.points, -t.points)) AS points,
                 SUM(IF(t.kind = 'REDEEM', t.points, -t.points) * (o.discount_fen DIV o.redeem_points)) AS fen
          FROM transfers t JOIN orders o ON o.id = CAST(t.ref_id AS UNSIGNED)
          WHERE t.merchant_id = ${merchantId} AND t.kind IN ('REDEEM', 'REDEEM_RETURN')
            AND t.created_at >= ${from} AND t.created_at < ${to}`,
    ),
  ])
  const pointsOf = (...kinds: string[]) =>
    points.filter((p) => kinds.includes(p.kind)).reduce((sum, p) => sum + Number(p.points ?? 0), 0)
  return {
    orders: Number(paid?.orders ?? 0),
    paidFen: Number(paid?.paidFen ?? 0),
    refundedFen: Number(refunded?.fen ?? 0),
    pointsIssued: pointsOf('EARN', 'MERCHANT_GRANT'),
    pointsClawedBack: pointsOf('REFUND_CLAWBACK'),
    pointsRedeemed: Number(redeemed?.points ?? 0),
    discountFen: Number(redeemed?.fen ?? 0),
    customers: Number(paid?.customers ?? 0),
  }
}
