/** A user's balance and history, read from the primary: right after a gift or an award the user
 * must see their own write. */
import { type SQL, sql } from 'drizzle-orm'
import type { ListQuery, RECORD_KINDS } from '../../shared/schemas.ts'
import { type Db, type Numeric, selectRows } from '../db/client.ts'
import { dateOf } from './lots.ts'
import { pageOf } from './merchants.ts'

/**
 * One statement, so balance, held points and the points expiring soon come from one consistent
 * read. Hand-written (see selectRows): it is the most frequent read, and the builder cost more
 * than the query. expiringSoon reads only the account's open lots expiring before the horizon,
 * from the covering (account, open_until, remaining) index, however long the history.
 */
/** POINTS_EXPIRY_NOTICE_SECONDS' default, for callers that show a balance without the configuration. */
const DEFAULT_NOTICE_SECONDS = 30 * 24 * 3600

export async function balanceOf(
  db: Db,
  userId: number,
  noticeSeconds = DEFAULT_NOTICE_SECONDS,
  now = new Date(),
) {
  const horizon = new Date(now.getTime() + noticeSeconds * 1000)
  const [acct] = await selectRows<
    Record<'balance' | 'totalEarned' | 'heldInGifts' | 'soonPoints', Numeric> & {
      soonAt: string | Date | null
    }
  >(
    db,
    sql`SELECT a.balance, a.total_earned AS totalEarned,
               (SELECT COALESCE(SUM(remaining_points), 0) FROM gifts
                WHERE sender_user_id = ${userId} AND status = 'PENDING') AS heldInGifts,
               (SELECT COALESCE(SUM(remaining), 0) FROM point_lots
                WHERE account_id = a.id AND open_until <= ${horizon}) AS soonPoints,
               (SELECT MIN(open_until) FROM point_lots
                WHERE account_id = a.id AND open_until <= ${horizon}) AS soonAt
        FROM accounts a WHERE a.kind = 'USER' AND a.owner_id = ${userId}`,
  )
  const soonPoints = Number(acct?.soonPoints ?? 0)
  return {
    balance: Number(acct?.balance ?? 0),
    heldInGifts: Number(acct?.heldInGifts ?? 0),
    /** Points earned from purchases and merchant grants, net of refund claw-backs. */
    totalEarned: Number(acct?.totalEarned ?? 0),
    /** Points in lots expiring within the notice period, and the earliest of their expiries. */
    expiringSoon:
      soonPoints > 0 && acct?.soonAt ? { points: soonPoints, at: dateOf(acct.soonAt).toISOString() } : null,
  }
}

/** A page row as the hand-written query returns it (see selectRows: numbers may be text, times are). */
interface RecordRow {
  id: Numeric
  delta: Numeric
  balanceAfter: Numeric | null
  kind: (typeof RECORD_KINDS)[number]
  refId: string | null
  merchantId: Numeric | null
  createdAt: string
}

/** DATETIME text in UTC (the session's time zone) as ISO-8601. */
const isoFromUtcText = (text: string) => new Date(`${text.replace(' ', 'T')}Z`).toISOString()

const recordView = (e: RecordRow) => ({
  id: String(e.id),
  delta: Number(e.delta),
  balanceAfter: e.balanceAfter === null ? 0 : Number(e.balanceAfter),
  kind: e.kind,
  refId: e.refId,
  merchantId: e.merchantId === null ? null : String(e.merchantId),
  createdAt: isoFromUtcText(e.createdAt),
})

/**
 * One page of a user's entries, newest first: the user's account and the page in one statement.
 * Ordered by the account's seq, which the ledger extends under the account's lock, so the order is
 * the order the user's balance moved in, whatever ids a distributed database hands out. The cursor
 * is still the last entry's id, as before seq: its entry gives the seq to continue below, so a
 * release that reads the cursor as an id and one that reads it as an entry agree during a rolling
 * deploy or a rollback. An id that is not one of the caller's entries ends the list. The account
 * and the cursor's entry are unique-key reads the optimizer does first, which leaves a range scan
 * of (account_id, seq): a page costs the same whatever the history's size. Forced so the plan
 * cannot drift to the other index on account_id, (account_id, id), and sort the whole history.
 * Exported so the bench EXPLAINs the statement the origin runs.
 */
export function recordsPageQuery(userId: number, cursor: number | undefined, rows: number): SQL {
  const below =
    cursor === undefined
      ? { join: sql``, where: sql`` }
      : {
          join: sql`JOIN ledger_entries c ON c.id = ${cursor} AND c.account_id = a.id`,
          where: sql`AND e.seq < c.seq`,
        }
  return sql`SELECT e.id, e.delta, e.balance_after AS balanceAfter, e.kind, e.ref_id AS refId,
                    e.merchant_id AS merchantId, e.created_at AS createdAt
             FROM accounts a ${below.join}
             JOIN ledger_entries e FORCE INDEX (ledger_entries_account_seq_uq) ON e.account_id = a.id
             WHERE a.kind = 'USER' AND a.owner_id = ${userId} ${below.where}
             ORDER BY e.seq DESC LIMIT ${rows}`
}

/** Keyset pagination on (account_id, seq): the cost of a page does not grow with the history. */
export async function recordsOf(db: Db, userId: number, q: ListQuery) {
  const cursor = q.cursor === undefined ? undefined : Number(q.cursor)
  const rows = await selectRows<RecordRow>(db, recordsPageQuery(userId, cursor, q.limit + 1))
  return pageOf(rows, q.limit, (e) => Number(e.id), recordView)
}
