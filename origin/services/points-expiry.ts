/**
 * The jobs of point expiry (API.md §14, §15). Each lot is handled in its own transaction, after
 * re-reading it under its owner's account lock (expiry) or with a conditional update (the
 * message), so several origins running these at once expire each lot once and tell its owner once.
 */
import { sql } from 'drizzle-orm'
import { type Db, type Numeric, runTx, selectRows, writeRows } from '../db/client.ts'
import { PLATFORM, transfer, userAccount } from './ledger.ts'
import { dateOf } from './lots.ts'
import { enqueuePointsExpiring } from './outbox.ts'

const BATCH = 200
/** Lots one run expires at most, so a large backlog never holds up shutdown for long; the next run goes on. */
const MAX_PER_RUN = 5000

/**
 * Expires the due lots of one user, up to BATCH, in one transaction: one EXPIRE transfer (−N) per
 * lot, each lot re-read under the user's account lock. A user whose account another transaction
 * holds (another runner, or the user's own write) is skipped rather than waited for; the next run
 * comes back to it. Returns the number of lots expired.
 */
export async function expireLotsOf(db: Db, ownerId: number, now: Date): Promise<number> {
  return runTx(db, async (tx) => {
    const [acct] = await selectRows<{ id: Numeric }>(
      tx,
      sql`SELECT id FROM accounts WHERE kind = 'USER' AND owner_id = ${ownerId} FOR UPDATE SKIP LOCKED`,
    )
    if (!acct) return 0
    const lots = await selectRows<{ id: Numeric; remaining: Numeric }>(
      tx,
      sql`SELECT id, remaining FROM point_lots WHERE account_id = ${Number(acct.id)} AND open_until <= ${now}
          ORDER BY open_until, remaining, id LIMIT ${BATCH}`,
    )
    for (const lot of lots) {
      const lotId = Number(lot.id)
      const moved = await transfer(tx, {
        businessKey: `EXPIRE:${lotId}`,
        kind: 'EXPIRE',
        debit: userAccount(ownerId),
        credit: PLATFORM,
        points: Number(lot.remaining),
        refId: String(lotId),
        expireLot: lotId,
        now,
      })
      if (!moved.applied) throw new Error(`lot ${lotId}: open after its EXPIRE transfer`)
    }
    return lots.length
  })
}

/** The job: expires lots whose time has come, the users with the earliest ones first. */
export async function expireDueLots(db: Db, now: Date): Promise<number> {
  let expired = 0
  while (expired < MAX_PER_RUN) {
    const due = await selectRows<{ ownerId: Numeric }>(
      db,
      sql`SELECT a.owner_id AS ownerId FROM point_lots l JOIN accounts a ON a.id = l.account_id
          WHERE l.open_until <= ${now} ORDER BY l.open_until, l.id LIMIT ${BATCH}`,
    )
    const owners = [...new Set(due.map((d) => Number(d.ownerId)))]
    let progress = 0
    for (const ownerId of owners) progress += await expireLotsOf(db, ownerId, now)
    expired += progress
    if (progress === 0) break
  }
  return expired
}

export interface ExpiryNoticeDeps {
  db: { primary: Db }
  config: { POINTS_EXPIRY_NOTICE_SECONDS: number; WECHAT_TEMPLATE_POINTS_EXPIRING?: string }
}

/** The job: queues "points expiring soon" once per lot entering the notice window. */
export async function noticeExpiringLots(deps: ExpiryNoticeDeps, now: Date): Promise<number> {
  const templateId = deps.config.WECHAT_TEMPLATE_POINTS_EXPIRING
  if (!templateId) return 0
  const db = deps.db.primary
  const horizon = new Date(now.getTime() + deps.config.POINTS_EXPIRY_NOTICE_SECONDS * 1000)
  const due = await selectRows<{ id: Numeric }>(
    db,
    sql`SELECT id FROM point_lots
        WHERE expiry_noticed = false AND open_until > ${now} AND open_until <= ${horizon}
        ORDER BY open_until, id LIMIT ${BATCH}`,
  )
  let queued = 0
  for (const { id } of due) {
    const lotId = Number(id)
    const done = await runTx(db, async (tx) => {
      const claim = await writeRows(
        tx,
        sql`UPDATE point_lots SET expiry_noticed = true
            WHERE id = ${lotId} AND expiry_noticed = false AND open_until > ${now}`,
      )
      if (claim.affectedRows !== 1) return false
      const [lot] = await selectRows<{ ownerId: Numeric; remaining: Numeric; expiresAt: string | Date }>(
        tx,
        sql`SELECT a.owner_id AS ownerId, l.remaining, l.expires_at AS expiresAt
            FROM point_lots l JOIN accounts a ON a.id = l.account_id WHERE l.id = ${lotId}`,
      )
      if (!lot) return false
      await enqueuePointsExpiring(tx, templateId, {
        lotId,
        userId: Number(lot.ownerId),
        points: Number(lot.remaining),
        expiresAt: dateOf(lot.expiresAt),
        at: now,
      })
      return true
    })
    if (done) queued++
  }
  return queued
}
