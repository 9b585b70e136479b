/**
 * Point lots (API.md §14): when each point of a USER account expires. Lots are a view on the
 * account's entries, kept by `transfer()` in the transaction that writes them and under the
 * account's lock, so that Σ remaining of open lots = max(0, balance) after every commit:
 * a debit takes from the lots that expire first; a credit first pays off a debt (a negative
 * balance after a claw-back), and the rest forms lots.
 */
import { sql } from 'drizzle-orm'
import { formatStatement, type Numeric, selectRows, type Tx, writeRows } from '../db/client.ts'

/** `open_until` of a lot that never expires: after every real expiry, so it sorts last. */
export const NEVER = new Date('9999-12-31T00:00:00.000Z')
export const DEFAULT_POINTS_TTL_SECONDS = 31_536_000
/** Lots read per statement while a debit walks them; most debits need one or two. */
const TAKE_BATCH = 200

let ttlSeconds = DEFAULT_POINTS_TTL_SECONDS

/**
 * The lot policy comes from configuration once at start (createDeps), so callers of `transfer()`
 * never pass a TTL. 0: points never expire.
 */
export function setLotPolicy(policy: { ttlSeconds: number }): void {
  ttlSeconds = policy.ttlSeconds
}

/** The USER side of a transfer, as it was before the transfer. */
export interface LotAccount {
  id: number
  balance: number
}

/** A DATETIME as a hand-written SELECT returns it: UTC text or a Date, depending on the pool. */
export const dateOf = (v: string | Date) => (v instanceof Date ? v : new Date(`${v.replace(' ', 'T')}Z`))

/**
 * A debit's share of the lots: what the balance covered (a claw-back may go below zero; that part
 * is debt, not lots), earliest expiry first, or exactly `onlyLotId` (an expiry). Records what it
 * took in transfer_lots so a return or a gift can follow the points.
 */
export async function takeLots(
  tx: Tx,
  acct: LotAccount,
  points: number,
  transferId: number,
  onlyLotId?: number,
): Promise<void> {
  let left = Math.min(points, Math.max(0, acct.balance))
  const taken: Array<{ lotId: number; points: number }> = []
  while (left > 0) {
    const lots = await selectRows<{ id: Numeric; remaining: Numeric }>(
      tx,
      onlyLotId === undefined
        ? sql`SELECT id, remaining FROM point_lots
              WHERE account_id = ${acct.id} AND open_until IS NOT NULL
              ORDER BY open_until, remaining, id LIMIT ${TAKE_BATCH}`
        : sql`SELECT id, remaining FROM point_lots
              WHERE id = ${onlyLotId} AND account_id = ${acct.id} AND open_until IS NOT NULL`,
    )
    if (lots.length === 0 || (onlyLotId !== undefined && Number(lots[0]!.remaining) !== points)) {
      throw new Error(`ledger invariant: lots of account ${acct.id} do not cover ${left} points`)
    }
    const closed: number[] = []
    for (const lot of lots) {
      if (left === 0) break
      const remaining = Number(lot.remaining)
      const take = Math.min(remaining, left)
      left -= take
      taken.push({ lotId: Number(lot.id), points: take })
      if (take === remaining) closed.push(Number(lot.id))
      else
        await writeRows(
          tx,
          sql`UPDATE point_lots SET remaining = remaining - ${take} WHERE id = ${Number(lot.id)}`,
        )
    }
    if (closed.length > 0)
      await writeRows(
        tx,
        sql`UPDATE point_lots SET remaining = 0, open_until = NULL WHERE id IN (${sql.join(closed, sql`, `)})`,
      )
  }
  if (taken.length === 0) return
  const values = taken.map((t) => sql`(${transferId}, ${t.lotId}, ${t.points})`)
  await writeRows(
    tx,
    sql`INSERT INTO transfer_lots (transfer_id, lot_id, points) VALUES ${sql.join(values, sql`, `)}`,
  )
}

interface SourceLot {
  lotId: number
  available: number
  expiresAt: Date | null
}

/**
 * What the debit named by `businessKey` took and has not passed on yet, earliest expiry first.
 * Its transfer_lots rows are locked: parts of one debit may be passed on by concurrent
 * transactions (shares of a group gift) that lock no common account.
 */
async function sourceLots(tx: Tx, businessKey: string): Promise<{ transferId: number; lots: SourceLot[] }> {
  const [source] = await selectRows<{ id: Numeric }>(
    tx,
    sql`SELECT id FROM transfers WHERE business_key = ${businessKey}`,
  )
  if (!source) throw new Error(`lotsFrom ${businessKey}: no such transfer`)
  const transferId = Number(source.id)
  const rows = await selectRows<{ lotId: Numeric; available: Numeric }>(
    tx,
    sql`SELECT lot_id AS lotId, points - passed_on AS available FROM transfer_lots
        WHERE transfer_id = ${transferId} AND passed_on < points FOR UPDATE`,
  )
  if (rows.length === 0) return { transferId, lots: [] }
  // expires_at never changes, so reading it without a lock is exact.
  const expiries = await selectRows<{ id: Numeric; expiresAt: string | Date | null }>(
    tx,
    sql`SELECT id, expires_at AS expiresAt FROM point_lots
        WHERE id IN (${sql.join(
          rows.map((r) => Number(r.lotId)),
          sql`, `,
        )})`,
  )
  const expiryOf = new Map(expiries.map((e) => [Number(e.id), e.expiresAt]))
  const lots = rows
    .map((r) => {
      const expiresAt = expiryOf.get(Number(r.lotId))
      return {
        lotId: Number(r.lotId),
        available: Number(r.available),
        expiresAt: expiresAt ? dateOf(expiresAt) : null,
      }
    })
    .sort((a, b) => (a.expiresAt ?? NEVER).getTime() - (b.expiresAt ?? NEVER).getTime() || a.lotId - b.lotId)
  return { transferId, lots }
}

/**
 * A credit's lots. The first points pay off any debt; the rest form lots expiring TTL after `now`,
 * or, with `lotsFrom`, lots with the expiries of what that debit took (never more than it took and
 * has not passed on), so a return or a gift never extends a point's life. A debit from before lots
 * existed has no lots to follow: that part forms fresh lots, as the carried-over balance did.
 */
export async function formLots(
  tx: Tx,
  acct: LotAccount,
  points: number,
  transferId: number,
  lotsFrom: string | undefined,
  now: Date,
): Promise<void> {
  let debt = Math.max(0, -acct.balance)
  let rest = points
  const fresh: Array<{ points: number; expiresAt: Date | null }> = []
  const form = (amount: number, expiresAt: Date | null) => {
    const paid = Math.min(amount, debt)
    debt -= paid
    if (amount > paid) fresh.push({ points: amount - paid, expiresAt })
  }
  if (lotsFrom !== undefined) {
    const source = await sourceLots(tx, lotsFrom)
    for (const src of source.lots) {
      if (rest === 0) break
      const take = Math.min(src.available, rest)
      rest -= take
      await writeRows(
        tx,
        sql`UPDATE transfer_lots SET passed_on = passed_on + ${take}
            WHERE transfer_id = ${source.transferId} AND lot_id = ${src.lotId}`,
      )
      form(take, src.expiresAt)
    }
  }
  if (rest > 0) form(rest, freshLotExpiry(now))
  await insertLots(
    tx,
    fresh.map((l) => ({ accountId: acct.id, transferId, ...l })),
    now,
  )
}

/** When a lot formed at `now` from fresh points expires; null: never. */
const freshLotExpiry = (now: Date) => (ttlSeconds === 0 ? null : new Date(now.getTime() + ttlSeconds * 1000))

/** The fresh lot a plain credit forms: what is left after paying off the debt of a negative balance. */
export function freshLotOf(balanceBefore: number, points: number, now: Date) {
  const rest = points - Math.min(points, Math.max(0, -balanceBefore))
  return rest > 0 ? { points: rest, expiresAt: freshLotExpiry(now) } : undefined
}

export interface NewLot {
  accountId: number
  transferId: number
  points: number
  expiresAt: Date | null
}

/** One statement for any number of new lots (of one or of many accounts). */
export const insertLotsStatement = (lots: NewLot[], now: Date) =>
  formatStatement(
    `INSERT INTO point_lots (account_id, source_transfer_id, points, remaining, expires_at, open_until, created_at)
     VALUES ?`,
    [
      lots.map((l) => [
        l.accountId,
        l.transferId,
        l.points,
        l.points,
        l.expiresAt,
        l.expiresAt ?? NEVER,
        now,
      ]),
    ],
  )

export async function insertLots(tx: Tx, lots: NewLot[], now: Date): Promise<void> {
  if (lots.length > 0) await writeRows(tx, sql.raw(insertLotsStatement(lots, now)))
}
