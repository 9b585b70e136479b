/** Points given outside a purchase: merchant grants (from the merchant's issuance account) and
 * admin adjustments (against the platform account). Both run inside the caller's idempotent
 * transaction, which is what makes a retried request move points once. */
import { randomUUID } from 'node:crypto'
import { and, eq, sql } from 'drizzle-orm'
import { merchantDailyGrants, merchantStaff } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import type { Tx } from '../db/client.ts'
import { recordAudit } from './audit.ts'
import { shanghaiDay } from './award-rule.ts'
import { merchantIssuance, PLATFORM, transfer, userAccount } from './ledger.ts'
import { lockActiveMerchant } from './merchants.ts'
import { lockLiveUser } from './users.ts'

/**
 * A merchant's own people could otherwise mint points for themselves and gift them on (API.md
 * §16). The caller holds the merchant's row lock, which accepting an invitation also takes, so no
 * one becomes staff between this check and the grant's commit.
 */
async function refuseOwnPeople(tx: Tx, merchant: { id: number; ownerUserId: number }, userId: number) {
  const [staff] = await tx
    .select({ userId: merchantStaff.userId })
    .from(merchantStaff)
    .where(and(eq(merchantStaff.userId, userId), eq(merchantStaff.merchantId, merchant.id)))
  if (merchant.ownerUserId === userId || staff) {
    throw new AppError('FORBIDDEN', 'a merchant cannot grant points to its owner or staff', {
      field: 'userId',
    })
  }
}

/**
 * Counts the grant against the merchant's GRANT_DAILY_MAX_POINTS for the Asia/Shanghai day. The
 * conditional UPDATE holds the day row's lock until the grant commits, so concurrent grants are
 * counted one after another and together never pass the cap.
 */
async function countAgainstDailyMax(tx: Tx, merchantId: number, points: number, dailyMax: number, now: Date) {
  const day = shanghaiDay(now)
  // Takes the day row's exclusive lock at once (a plain INSERT IGNORE would take a shared one, and
  // two grants upgrading it together deadlock).
  await tx
    .insert(merchantDailyGrants)
    .values({ merchantId, day, points: 0 })
    .onDuplicateKeyUpdate({ set: { points: sql`${merchantDailyGrants.points}` } })
  const [res] = await tx
    .update(merchantDailyGrants)
    .set({ points: sql`${merchantDailyGrants.points} + ${points}` })
    .where(
      and(
        eq(merchantDailyGrants.merchantId, merchantId),
        eq(merchantDailyGrants.day, day),
        sql`${merchantDailyGrants.points} + ${points} <= ${dailyMax}`,
      ),
    )
  if (res.affectedRows === 0) {
    const [row] = await tx
      .select({ points: merchantDailyGrants.points })
      .from(merchantDailyGrants)
      .where(and(eq(merchantDailyGrants.merchantId, merchantId), eq(merchantDailyGrants.day, day)))
    throw new AppError('GRANT_LIMIT_EXCEEDED', `grants are limited to ${dailyMax} points a day`, {
      dailyMaxPoints: dailyMax,
      grantedToday: row?.points ?? 0,
      day,
    })
  }
}

export async function grantPoints(
  tx: Tx,
  input: {
    owner: { userId: number }
    merchantId: number
    userId: number
    points: number
    reason: string
    dailyMaxPoints: number
    now: Date
  },
) {
  const merchant = await lockActiveMerchant(tx, input.merchantId)
  await refuseOwnPeople(tx, merchant, input.userId)
  await lockLiveUser(tx, input.userId)
  await countAgainstDailyMax(tx, merchant.id, input.points, input.dailyMaxPoints, input.now)
  const grantId = randomUUID()
  const moved = await transfer(tx, {
    businessKey: `GRANT:${grantId}`,
    kind: 'MERCHANT_GRANT',
    debit: merchantIssuance(merchant.id),
    credit: userAccount(input.userId),
    points: input.points,
    merchantId: merchant.id,
    refId: grantId,
    now: input.now,
  })
  if (!moved.applied) throw new Error(`grant ${grantId} applied twice`)
  await recordAudit(
    tx,
    {
      actorUserId: input.owner.userId,
      actorRole: 'merchant_owner',
      action: 'points.grant',
      targetType: 'user',
      targetId: input.userId,
      details: { merchantId: String(merchant.id), points: input.points, reason: input.reason, grantId },
    },
    input.now,
  )
  return {
    id: grantId,
    transferId: String(moved.transferId),
    merchantId: String(merchant.id),
    userId: String(input.userId),
    points: input.points,
    reason: input.reason,
  }
}

/** Positive adjustments credit the user; negative ones may not take them below zero. */
export async function adjustPoints(
  tx: Tx,
  input: { adminUserId: number; userId: number; points: number; reason: string; now: Date },
) {
  await lockLiveUser(tx, input.userId)
  const adjustmentId = randomUUID()
  const credit = input.points > 0
  const moved = await transfer(tx, {
    businessKey: `ADJUST:${adjustmentId}`,
    kind: 'ADMIN_ADJUST',
    debit: credit ? PLATFORM : userAccount(input.userId),
    credit: credit ? userAccount(input.userId) : PLATFORM,
    points: Math.abs(input.points),
    refId: adjustmentId,
    now: input.now,
  })
  if (!moved.applied) throw new Error(`adjustment ${adjustmentId} applied twice`)
  await recordAudit(
    tx,
    {
      actorUserId: input.adminUserId,
      actorRole: 'admin',
      action: 'points.adjust',
      targetType: 'user',
      targetId: input.userId,
      details: { points: input.points, reason: input.reason, adjustmentId },
    },
    input.now,
  )
  return {
    id: adjustmentId,
    transferId: String(moved.transferId),
    userId: String(input.userId),
    points: input.points,
    reason: input.reason,
    balance: moved.userBalances.get(input.userId)!,
  }
}
