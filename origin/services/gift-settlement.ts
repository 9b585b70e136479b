/**
 * Moving a gift's escrow out: a claim takes one share to the claimer; a cancel or expiry returns
 * what is left to the sender and ends the gift. Everything happens under the gift's row lock,
 * taken first, so claims of one gift queue there and each share goes exactly once; every
 * movement also has its own business key (one per share, one for the return), so even a broken
 * lock discipline could not pay a share twice.
 */
import { and, asc, eq, isNull, lte, type SQL, sql } from 'drizzle-orm'
import { giftShares, gifts, users } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import { type Db, runTx, type Tx } from '../db/client.ts'
import { claimsOf, type GiftRow, giftView, sendKey } from './gifts.ts'
import { GIFT_ESCROW, transfer, userAccount } from './ledger.ts'
import { enqueueGiftClaimed } from './outbox.ts'
import { lockActingUser } from './users.ts'

const EXPIRY_BATCH = 100

const claimKey = (giftId: number, shareIndex: number) => `GIFT_CLAIM:${giftId}:${shareIndex}`
const returnKey = (giftId: number) => `GIFT_RETURN:${giftId}`

/**
 * Returns the unclaimed remainder to the sender and ends the gift. Returns the sender's balance
 * after it (undefined only if nothing was left, which a PENDING gift never is).
 */
async function returnRemainder(tx: Tx, gift: GiftRow, status: 'CANCELLED' | 'EXPIRED', now: Date) {
  let senderBalance: number | undefined
  if (gift.remainingPoints > 0) {
    const moved = await transfer(tx, {
      businessKey: returnKey(gift.id),
      kind: 'GIFT_RETURN',
      debit: GIFT_ESCROW,
      credit: userAccount(gift.senderUserId),
      points: gift.remainingPoints,
      refId: String(gift.id),
      lotsFrom: sendKey(gift.id),
      now,
    })
    if (!moved.applied) throw new Error(`gift ${gift.id}: returned twice (status was PENDING)`)
    senderBalance = moved.userBalances.get(gift.senderUserId)
  }
  await tx.update(gifts).set({ status, remainingPoints: 0, updatedAt: now }).where(eq(gifts.id, gift.id))
  return { gift: { ...gift, status, remainingPoints: 0, updatedAt: now }, senderBalance }
}

type Settled = { outcome: 'settled'; gift: GiftRow; balance: number; share?: number } | { outcome: 'expired' }

function refuseUnlessPending(gift: GiftRow): void {
  if (gift.status === 'CLAIMED')
    throw new AppError('GIFT_ALREADY_CLAIMED', 'this gift has already been claimed')
  if (gift.status === 'EXPIRED') throw new AppError('GIFT_EXPIRED', 'this gift has expired')
  if (gift.status === 'CANCELLED') throw new AppError('INVALID_STATE', 'this gift was cancelled')
}

const lockGift = async (tx: Tx, where: SQL | undefined) =>
  (await tx.select().from(gifts).where(where).for('update'))[0]

/** An overdue gift is expired by whoever touches it first; the refusal is sent after that commits. */
async function settle(
  db: Db,
  find: (tx: Tx) => Promise<GiftRow | undefined>,
  act: (tx: Tx, gift: GiftRow) => Promise<Settled>,
) {
  const result = await runTx(db, async (tx) => {
    const gift = await find(tx)
    if (!gift) throw new AppError('NOT_FOUND', 'gift not found')
    refuseUnlessPending(gift)
    const now = new Date()
    if (gift.expiresAt.getTime() <= now.getTime()) {
      await returnRemainder(tx, gift, 'EXPIRED', now)
      return { outcome: 'expired' as const }
    }
    const settled = await act(tx, gift)
    if (settled.outcome !== 'settled') return settled
    return { ...settled, claims: await claimsOf(tx, gift.id) }
  })
  if (result.outcome === 'expired') throw new AppError('GIFT_EXPIRED', 'this gift has expired')
  return { result, gift: giftView(result.gift, result.claims) }
}

/**
 * Takes the lowest unclaimed share for the claimer. `templateId`: the gift-claimed subscribe
 * message to the sender (API.md §15), when configured; its dedupe key is per gift, so the sender
 * of a group gift hears of the first claim.
 */
export async function claimGift(db: Db, code: string, claimerUserId: number, templateId?: string) {
  const { result, gift } = await settle(
    db,
    (tx) => lockGift(tx, eq(gifts.code, code)),
    async (tx, gift) => {
      if (gift.senderUserId === claimerUserId) {
        throw new AppError('CANNOT_CLAIM_OWN_GIFT', 'you cannot claim your own gift')
      }
      const [mine] = await tx
        .select({ shareIndex: giftShares.shareIndex })
        .from(giftShares)
        .where(and(eq(giftShares.giftId, gift.id), eq(giftShares.claimedByUserId, claimerUserId)))
      if (mine) throw new AppError('GIFT_ALREADY_CLAIMED', 'you have already claimed this gift')
      // After the gift's lock, before the account's: see lockActingUser and account deletion.
      await lockActingUser(tx, claimerUserId)
      const [share] = await tx
        .select()
        .from(giftShares)
        .where(and(eq(giftShares.giftId, gift.id), isNull(giftShares.claimedByUserId)))
        .orderBy(asc(giftShares.shareIndex))
        .limit(1)
      if (!share) throw new Error(`gift ${gift.id}: PENDING with no share left`)
      const now = new Date()
      const [taken] = await tx
        .update(giftShares)
        .set({ claimedByUserId: claimerUserId, claimedAt: now })
        .where(
          and(
            eq(giftShares.giftId, gift.id),
            eq(giftShares.shareIndex, share.shareIndex),
            isNull(giftShares.claimedByUserId),
          ),
        )
      if (taken.affectedRows !== 1) throw new Error(`gift ${gift.id}: share ${share.shareIndex} taken twice`)
      const moved = await transfer(tx, {
        businessKey: claimKey(gift.id, share.shareIndex),
        kind: 'GIFT_RECEIVE',
        debit: GIFT_ESCROW,
        credit: userAccount(claimerUserId),
        points: share.points,
        refId: String(gift.id),
        lotsFrom: sendKey(gift.id),
        now,
      })
      if (!moved.applied) throw new Error(`gift ${gift.id}: share ${share.shareIndex} paid twice`)
      const claimedCount = gift.claimedCount + 1
      const claimed: GiftRow = {
        ...gift,
        status: claimedCount === gift.shareCount ? 'CLAIMED' : 'PENDING',
        claimedCount,
        remainingPoints: gift.remainingPoints - share.points,
        claimedByUserId: gift.claimedByUserId ?? claimerUserId,
        updatedAt: now,
      }
      await tx
        .update(gifts)
        .set({
          status: claimed.status,
          claimedCount: sql`${gifts.claimedCount} + 1`,
          remainingPoints: sql`${gifts.remainingPoints} - ${share.points}`,
          claimedByUserId: claimed.claimedByUserId,
          updatedAt: now,
        })
        .where(eq(gifts.id, gift.id))
      const [claimer] = await tx
        .select({ nickname: users.nickname })
        .from(users)
        .where(eq(users.id, claimerUserId))
      await enqueueGiftClaimed(tx, templateId, {
        giftId: gift.id,
        senderUserId: gift.senderUserId,
        claimerNickname: claimer?.nickname ?? '',
        points: share.points,
        at: now,
      })
      return {
        outcome: 'settled',
        gift: claimed,
        balance: moved.userBalances.get(claimerUserId)!,
        share: share.points,
      }
    },
  )
  return { gift, share: result.share!, balance: result.balance }
}

/** Only the sender may cancel; to anyone else the gift does not exist. Returns what is unclaimed. */
export async function cancelGift(db: Db, giftId: number, senderUserId: number) {
  const { result, gift } = await settle(
    db,
    (tx) => lockGift(tx, and(eq(gifts.id, giftId), eq(gifts.senderUserId, senderUserId))),
    async (tx, gift) => {
      const returned = await returnRemainder(tx, gift, 'CANCELLED', new Date())
      return { outcome: 'settled', gift: returned.gift, balance: returned.senderBalance! }
    },
  )
  return { gift, balance: result.balance }
}

/**
 * Account deletion's step: cancels every pending gift of the user, under the user's row lock the
 * caller holds (so no new gift appears meanwhile) and each gift's row lock.
 */
export async function cancelPendingGiftsOf(tx: Tx, senderUserId: number, now: Date): Promise<number> {
  const pending = await tx
    .select()
    .from(gifts)
    .where(and(eq(gifts.senderUserId, senderUserId), eq(gifts.status, 'PENDING')))
    .orderBy(asc(gifts.id))
    .for('update')
  for (const gift of pending) await returnRemainder(tx, gift, 'CANCELLED', now)
  return pending.length
}

/**
 * The expiry job's step. Each gift is expired in its own transaction under its row lock, after
 * re-checking it is still PENDING, so several origin instances running this at once expire each
 * gift exactly once.
 */
export async function expireDueGifts(db: Db, now: Date): Promise<number> {
  const due = await db
    .select({ id: gifts.id })
    .from(gifts)
    .where(and(eq(gifts.status, 'PENDING'), lte(gifts.expiresAt, now)))
    .orderBy(asc(gifts.expiresAt))
    .limit(EXPIRY_BATCH)
  let expired = 0
  for (const { id } of due) {
    const done = await runTx(db, async (tx) => {
      const [gift] = await tx.select().from(gifts).where(eq(gifts.id, id)).for('update')
      if (gift?.status !== 'PENDING' || gift.expiresAt.getTime() > now.getTime()) return false
      await returnRemainder(tx, gift, 'EXPIRED', now)
      return true
    })
    if (done) expired++
  }
  return expired
}
