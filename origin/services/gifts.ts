/**
 * Gifts are two-phase transfers: creating one moves the points from the sender into escrow at
 * once (held); each claim of a share, and a cancel or expiry of what is left, moves part of the
 * escrow out (gift-settlement.ts). A gift of `count` shares is a group gift (红包); a plain gift is
 * one share.
 */
import { randomInt } from 'node:crypto'
import { and, asc, eq, isNotNull, sql } from 'drizzle-orm'
import { giftDailySends, giftShares, gifts, users } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import type { Db, Tx } from '../db/client.ts'
import { shanghaiDay } from './award-rule.ts'
import { type GiftSplit, splitPoints } from './gift-shares.ts'
import { GIFT_ESCROW, transfer, userAccount } from './ledger.ts'
import { lockActingUser } from './users.ts'

export type GiftRow = typeof gifts.$inferSelect
export interface GiftClaim {
  nickname: string
  points: number
  claimedAt: string
}

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789'
const CODE_LENGTH = 12

function newGiftCode(): string {
  let code = ''
  for (let i = 0; i < CODE_LENGTH; i++) code += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]
  return code
}

/** The transfer that took the points into escrow; every settlement takes its lots from it. */
export const sendKey = (giftId: number) => `GIFT_SEND:${giftId}`

const shareFields = (g: GiftRow, claims: GiftClaim[]) => ({
  count: g.shareCount,
  split: g.split,
  claimedCount: g.claimedCount,
  remainingPoints: g.remainingPoints,
  claims,
})

export const giftView = (g: GiftRow, claims: GiftClaim[]) => ({
  id: String(g.id),
  code: g.code,
  points: g.points,
  message: g.message,
  status: g.status,
  expiresAt: g.expiresAt.toISOString(),
  ...shareFields(g, claims),
})

/** Claims in the order they were made (share order: the first claim took share 0). */
export async function claimsOf(db: Db | Tx, giftId: number): Promise<GiftClaim[]> {
  const rows = await db
    .select({ nickname: users.nickname, points: giftShares.points, claimedAt: giftShares.claimedAt })
    .from(giftShares)
    .innerJoin(users, eq(users.id, giftShares.claimedByUserId))
    .where(and(eq(giftShares.giftId, giftId), isNotNull(giftShares.claimedByUserId)))
    .orderBy(asc(giftShares.shareIndex))
  return rows.map((r) => ({ nickname: r.nickname, points: r.points, claimedAt: r.claimedAt!.toISOString() }))
}

/**
 * Counts the gift against the sender's GIFT_DAILY_MAX_POINTS for the Asia/Shanghai day, as grants
 * count against theirs: the day row's exclusive lock is held until the gift commits, so
 * concurrent creates are counted one after another and together never pass the cap. A cancelled
 * or expired gift keeps counting: the cap is on what was put into gifts.
 */
async function countAgainstDailyMax(tx: Tx, userId: number, points: number, dailyMax: number, now: Date) {
  const day = shanghaiDay(now)
  await tx
    .insert(giftDailySends)
    .values({ userId, day, points: 0 })
    .onDuplicateKeyUpdate({ set: { points: sql`${giftDailySends.points}` } })
  const today = and(eq(giftDailySends.userId, userId), eq(giftDailySends.day, day))
  const [res] = await tx
    .update(giftDailySends)
    .set({ points: sql`${giftDailySends.points} + ${points}` })
    .where(and(today, sql`${giftDailySends.points} + ${points} <= ${dailyMax}`))
  if (res.affectedRows === 0) {
    const [row] = await tx.select({ points: giftDailySends.points }).from(giftDailySends).where(today)
    throw new AppError('GIFT_LIMIT_EXCEEDED', `gifts are limited to ${dailyMax} points a day`, {
      dailyMaxPoints: dailyMax,
      giftedToday: row?.points ?? 0,
      day,
    })
  }
}

export async function createGift(
  tx: Tx,
  input: {
    senderUserId: number
    points: number
    message?: string
    count?: number
    split?: GiftSplit
    ttlSeconds: number
    dailyMaxPoints: number
    now: Date
  },
): Promise<GiftRow> {
  const count = input.count ?? 1
  const split = input.split ?? 'even'
  const shares = splitPoints(input.points, count, split)
  await lockActingUser(tx, input.senderUserId)
  await countAgainstDailyMax(tx, input.senderUserId, input.points, input.dailyMaxPoints, input.now)
  const row = {
    code: newGiftCode(),
    senderUserId: input.senderUserId,
    points: input.points,
    message: input.message ?? '',
    status: 'PENDING' as const,
    shareCount: count,
    split,
    claimedCount: 0,
    remainingPoints: input.points,
    expiresAt: new Date(input.now.getTime() + input.ttlSeconds * 1000),
    createdAt: input.now,
    updatedAt: input.now,
  }
  const [res] = await tx.insert(gifts).values(row)
  const giftId = res.insertId
  await tx.insert(giftShares).values(shares.map((points, shareIndex) => ({ giftId, shareIndex, points })))
  await transfer(tx, {
    businessKey: sendKey(giftId),
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
    ...shareFields(gift, await claimsOf(db, gift.id)),
  }
}
