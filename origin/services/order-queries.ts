/** Read side of orders: the views and lists the payer and the merchant console see. Lists force
 * the (owner, id) index: keyset pages then cost the same however many orders exist. */
import { and, desc, eq, gte, lt } from 'drizzle-orm'
import { orders } from '../../db/schema.ts'
import type { ListQuery, ORDER_STATUSES } from '../../shared/schemas.ts'
import type { Db } from '../db/client.ts'
import { pageOf } from './merchants.ts'

export type OrderRow = typeof orders.$inferSelect
export type OrderStatus = (typeof ORDER_STATUSES)[number]

export const orderView = (o: OrderRow) => ({
  id: String(o.id),
  outTradeNo: o.outTradeNo,
  merchantId: String(o.merchantId),
  amountFen: o.amountFen,
  redeemPoints: o.redeemPoints,
  discountFen: o.discountFen,
  payableFen: o.payableFen,
  status: o.status,
  pointsAwarded: o.pointsAwarded,
  refundedFen: o.refundedFen,
  paidAt: o.paidAt ? o.paidAt.toISOString() : null,
  createdAt: o.createdAt.toISOString(),
  shippingStatus: o.shippingStatus,
})

export const merchantOrderView = (o: OrderRow) => ({
  ...orderView(o),
  userId: String(o.userId),
  pointsClawedBack: o.pointsClawedBack,
})

export async function listUserOrders(db: Db, userId: number, q: ListQuery) {
  const rows = await db
    .select()
    .from(orders, { forceIndex: 'orders_user_idx' })
    .where(and(eq(orders.userId, userId), q.cursor ? lt(orders.id, Number(q.cursor)) : undefined))
    .orderBy(desc(orders.id))
    .limit(q.limit + 1)
  return pageOf(rows, q.limit, (o) => o.id, orderView)
}

export async function listMerchantOrders(
  db: Db,
  merchantId: number,
  q: ListQuery & { status?: OrderStatus; from?: string; to?: string },
) {
  const rows = await db
    .select()
    .from(orders, { forceIndex: 'orders_merchant_idx' })
    .where(
      and(
        eq(orders.merchantId, merchantId),
        q.cursor ? lt(orders.id, Number(q.cursor)) : undefined,
        q.status ? eq(orders.status, q.status) : undefined,
        q.from ? gte(orders.createdAt, new Date(q.from)) : undefined,
        q.to ? lt(orders.createdAt, new Date(q.to)) : undefined,
      ),
    )
    .orderBy(desc(orders.id))
    .limit(q.limit + 1)
  return pageOf(rows, q.limit, (o) => o.id, merchantOrderView)
}
