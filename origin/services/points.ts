/** A user's balance and history, read from the primary: right after a gift or an award the user
 * must see their own write. */
import { and, desc, eq, lt, sql } from 'drizzle-orm'
import { accounts, ledgerEntries } from '../../db/schema.ts'
import type { ListQuery } from '../../shared/schemas.ts'
import { type Db, selectRows } from '../db/client.ts'
import { pageOf } from './merchants.ts'

/**
 * One statement, so balance and held points come from one consistent read. Hand-written (see
 * selectRows): it is the most frequent read, and the builder cost more than the query.
 */
export async function balanceOf(db: Db, userId: number) {
  const [acct] = await selectRows<Record<'balance' | 'totalEarned' | 'heldInGifts', number | string>>(
    db,
    sql`SELECT balance, total_earned AS totalEarned,
               (SELECT COALESCE(SUM(points), 0) FROM gifts
                WHERE sender_user_id = ${userId} AND status = 'PENDING') AS heldInGifts
        FROM accounts WHERE kind = 'USER' AND owner_id = ${userId}`,
  )
  return {
    balance: Number(acct?.balance ?? 0),
    heldInGifts: Number(acct?.heldInGifts ?? 0),
    /** Points earned from purchases and merchant grants, net of refund claw-backs. */
    totalEarned: Number(acct?.totalEarned ?? 0),
  }
}

type EntryRow = typeof ledgerEntries.$inferSelect

const recordView = (e: EntryRow) => ({
  id: String(e.id),
  delta: e.delta,
  balanceAfter: e.balanceAfter ?? 0,
  kind: e.kind,
  refId: e.refId,
  merchantId: e.merchantId === null ? null : String(e.merchantId),
  createdAt: e.createdAt.toISOString(),
})

/** Keyset pagination on (account_id, id): the cost of a page does not grow with the history. */
export async function recordsOf(db: Db, userId: number, q: ListQuery) {
  // The (account_id, id) index serves a page in constant time whatever the history's size. Forced:
  // for ORDER BY id DESC LIMIT n the optimizer may otherwise walk the whole table's primary key
  // backwards, which is slow exactly for users whose entries are old.
  const [acct] = await db
    .select({ id: accounts.id })
    .from(accounts)
    .where(and(eq(accounts.kind, 'USER'), eq(accounts.ownerId, userId)))
  if (!acct) return { items: [], nextCursor: null }
  const rows = await db
    .select()
    .from(ledgerEntries, { forceIndex: 'ledger_entries_account_id_idx' })
    .where(
      and(
        eq(ledgerEntries.accountId, acct.id),
        q.cursor ? lt(ledgerEntries.id, Number(q.cursor)) : undefined,
      ),
    )
    .orderBy(desc(ledgerEntries.id))
    .limit(q.limit + 1)
  return pageOf(rows, q.limit, (e) => e.id, recordView)
}
