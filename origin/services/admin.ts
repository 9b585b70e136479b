/** Platform-wide reads for admins; served from the read replica when one is configured. */
import { desc, lt, sql } from 'drizzle-orm'
import { auditLog } from '../../db/schema.ts'
import type { ListQuery } from '../../shared/schemas.ts'
import type { Db } from '../db/client.ts'
import { pageOf } from './merchants.ts'

export async function platformStats(db: Db) {
  const rows = async (query: ReturnType<typeof sql>) =>
    (await db.execute(query))[0] as unknown as Array<Record<string, unknown>>
  const [usersRow, merchantsRows, pointsRow, giftsRow, ordersRows] = await Promise.all([
    rows(sql`SELECT COUNT(*) AS n FROM users`),
    rows(sql`SELECT status, COUNT(*) AS n FROM merchants GROUP BY status`),
    rows(sql`SELECT COALESCE(SUM(balance), 0) AS outstanding FROM accounts WHERE kind = 'USER'`),
    rows(
      sql`SELECT COUNT(*) AS n, COALESCE(SUM(remaining_points), 0) AS points FROM gifts WHERE status = 'PENDING'`,
    ),
    rows(sql`SELECT status, COUNT(*) AS n, COALESCE(SUM(amount_fen), 0) AS fen, COALESCE(SUM(refunded_fen), 0) AS refunded
             FROM orders GROUP BY status`),
  ])
  const byStatus = (list: Array<Record<string, unknown>>) =>
    Object.fromEntries(list.map((r) => [String(r.status), Number(r.n)]))
  const paid = ordersRows.filter((r) => r.status !== 'PENDING' && r.status !== 'CLOSED')
  return {
    users: Number(usersRow[0]?.n ?? 0),
    merchants: byStatus(merchantsRows),
    pointsOutstanding: Number(pointsRow[0]?.outstanding ?? 0),
    pendingGifts: { count: Number(giftsRow[0]?.n ?? 0), points: Number(giftsRow[0]?.points ?? 0) },
    orders: byStatus(ordersRows),
    paidFen: paid.reduce((sum, r) => sum + Number(r.fen), 0),
    refundedFen: paid.reduce((sum, r) => sum + Number(r.refunded), 0),
  }
}

type AuditRow = typeof auditLog.$inferSelect

const auditView = (a: AuditRow) => ({
  id: String(a.id),
  actorUserId: String(a.actorUserId),
  actorRole: a.actorRole,
  action: a.action,
  targetType: a.targetType,
  targetId: a.targetId,
  details: a.details,
  createdAt: a.createdAt.toISOString(),
})

export async function listAudit(db: Db, q: ListQuery) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(q.cursor ? lt(auditLog.id, Number(q.cursor)) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1)
  return pageOf(rows, q.limit, (a) => a.id, auditView)
}
