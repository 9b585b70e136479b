/**
 * Gifts are two-phase transfers: creating one moves the points from the sender into escrow at
 * once (held); claiming, cancelling or expiring settles the escrow to the claimer or back to the
 * sender. Every settlement uses the same business key, so a gift can be settled only once even if
 * two settlements raced past the status check.
 */
import { randomInt } from 'node:crypto'
import { and, asc, eq, lte } from 'drizzle-orm'
import { gifts, users } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import { type Db, runTx, type Tx } from '../db/client.ts'
import { GIFT_ESCROW, transfer, userAccount } from './ledger.ts'
import { enqueueGiftClaimed } from './outbox.ts'

export type GiftRow = typeof gifts.$inferSelect

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789'
const CODE_LENGTH = 12
const EXPIRY_BATCH = 100

function newGiftCode(): string {
  let code = ''
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]
  return code
}

export const giftView = (g: GiftRow) => ({
  id: String(g.id),
  code: g.code,
  points: g.points,
  message: g.message,
  status: g.status,
  expiresAt: g.expiresAt.toISOString(),
})

const settleKey = (giftId: number) => `GIFT_SETTLE:${giftId}`

export async function createGift(
  tx: Tx,
  input: { senderUserId: number; points: number; message?: string; ttlSeconds: number; now: Date },
): Promise<GiftRow> {
  const row = {
    code: newGiftCode(),
    senderUserId: input.senderUserId,
    points: input.points,
    message: input.message ?? '',
    status: 'PENDING' as const,
    expiresAt: new Date(input.now.getTime() + input.ttlSeconds * 1000),
    createdAt: input.now,
    updatedAt: input.now,
  }
  const [res] = await tx.insert(gifts).values(row)
  const giftId = res.insertId
  await transfer(tx, {
    businessKey: `GIFT_SEND:${giftId}`,
    kind: 'GIFT_SEND',
    debit: userAccount(input.senderUserId),
    credit: GIFT_ESCROW,
    points: input.points,
    refId: String(giftId),
    now: input.now,
  })
  return { ...row, id: giftId, claimedByUserId: null }
}

export async function viewGiftByCode(db: Db, code: string) {
  const [row] = await db
    .select({ gift: gifts, senderNickname: users.nickname })
    .from(gifts)
    .innerJoin(users, eq(users.id, gifts.senderUserId))
    .where(eq(gifts.code, code))
  if (!row) throw new AppError('NOT_FOUND', 'gift not found')
  const { gift } = row
  // Between its expiry and the job's next run a gift is already unclaimable: say so.
  const overdue = gift.status === 'PENDING' && gift.expiresAt.getTime() <= Date.now()
  return {
    code: gift.code,
    points: gift.points,
    message: gift.message,
    status: overdue ? ('EXPIRED' as const) : gift.status,
    sender: { nickname: row.senderNickname },
    expiresAt: gift.expiresAt.toISOString(),
  }
}

async function returnToSender(tx: Tx, gift: GiftRow, status: 'CANCELLED' | 'EXPIRED', now: Date) {
  const moved = await transfer(tx, {
    businessKey: settleKey(gift.id),
    kind: 'GIFT_RETURN',
    debit: GIFT_ESCROW,
    credit: userAccount(gift.senderUserId),
    points: gift.points,
    refId: String(gift.id),
    lotsFrom: `GIFT_SEND:${gift.id}`,
    now,
  })
  if (!moved.applied) throw new Error(`gift ${gift.id}: settled twice (status was PENDING)`)
  await tx.update(gifts).set({ status, updatedAt: now }).where(eq(gifts.id, gift.id))
  return {
    gift: { ...gift, status, updatedAt: now },
    senderBalance: moved.userBalances.get(gift.senderUserId)!,
  }
}

type Settled = { outcome: 'settled'; gift: GiftRow; balance: number } | { outcome: 'expired' }

function refuseUnlessPending(gift: GiftRow): void {
  if (gift.status === 'CLAIMED')
    throw new AppError('GIFT_ALREADY_CLAIMED', 'this gift has already been claimed')
  if (gift.status === 'EXPIRED') throw new AppError('GIFT_EXPIRED', 'this gift has expired')
  if (gift.status === 'CANCELLED') throw new AppError('INVALID_STATE', 'this gift was cancelled')
}

/** An overdue gift is expired by whoever touches it first; the refusal is sent after that commits. */
async function settle(
  db: Db,
  find: (tx: Tx) => Promise<GiftRow | undefined>,
  act: (tx: Tx, gift: GiftRow) => Promise<Settled>,
) {
  const result = await runTx(db, async (tx): Promise<Settled> => {
    const gift = await find(tx)
    if (!gift) throw new AppError('NOT_FOUND', 'gift not found')
    refuseUnlessPending(gift)
    const now = new Date()
    if (gift.expiresAt.getTime() <= now.getTime()) {
      await returnToSender(tx, gift, 'EXPIRED', now)
      return { outcome: 'expired' }
    }
    return act(tx, gift)
  })
  if (result.outcome === 'expired') throw new AppError('GIFT_EXPIRED', 'this gift has expired')
  return { gift: giftView(result.gift), balance: result.balance }
}

/** `templateId`: the gift-claimed subscribe message to the sender (API.md §15), when configured. */
export function claimGift(db: Db, code: string, claimerUserId: number, templateId?: string) {
  return settle(
    db,
    async (tx) => (await tx.select().from(gifts).where(eq(gifts.code, code)).for('update'))[0],
    async (tx, gift) => {
      if (gift.senderUserId === claimerUserId) {
        throw new AppError('CANNOT_CLAIM_OWN_GIFT', 'you cannot claim your own gift')
      }
      const now = new Date()
      const moved = await transfer(tx, {
        businessKey: settleKey(gift.id),
        kind: 'GIFT_RECEIVE',
        debit: GIFT_ESCROW,
        credit: userAccount(claimerUserId),
        points: gift.points,
        refId: String(gift.id),
        lotsFrom: `GIFT_SEND:${gift.id}`,
        now,
      })
      if (!moved.applied) throw new Error(`gift ${gift.id}: settled twice (status was PENDING)`)
      await tx
        .update(gifts)
        .set({ status: 'CLAIMED', claimedByUserId: claimerUserId, updatedAt: now })
        .where(eq(gifts.id, gift.id))
      const [claimer] = await tx
        .select({ nickname: users.nickname })
        .from(users)
        .where(eq(users.id, claimerUserId))
      await enqueueGiftClaimed(tx, templateId, {
        giftId: gift.id,
        senderUserId: gift.senderUserId,
        claimerNickname: claimer?.nickname ?? '',
        points: gift.points,
        at: now,
      })
      const claimed = { ...gift, status: 'CLAIMED' as const, claimedByUserId: claimerUserId, updatedAt: now }
      return { outcome: 'settled', gift: claimed, balance: moved.userBalances.get(claimerUserId)! }
    },
  )
}

/** Only the sender may cancel; to anyone else the gift does not exist. */
export function cancelGift(db: Db, giftId: number, senderUserId: number) {
  return settle(
    db,
    async (tx) =>
      (
        await tx
          .select()
          .from(gifts)
          .where(and(eq(gifts.id, giftId), eq(gifts.senderUserId, senderUserId)))
          .for('update')
      )[0],
    async (tx, gift) => {
      const { gift: cancelled, senderBalance } = await returnToSender(tx, gift, 'CANCELLED', new Date())
      return { outcome: 'settled', gift: cancelled, balance: senderBalance }
    },
  )
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
      await returnToSender(tx, gift, 'EXPIRED', now)
      return true
    })
    if (done) expired++
  }
  return expired
}
