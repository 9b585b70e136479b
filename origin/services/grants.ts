/** Points given outside a purchase: merchant grants (from the merchant's issuance account) and
 * admin adjustments (against the platform account). Both run inside the caller's idempotent
 * transaction, which is what makes a retried request move points once. */
import { randomUUID } from 'node:crypto'
import { AppError } from '../../shared/errors.ts'
import type { Tx } from '../db/client.ts'
import { recordAudit } from './audit.ts'
import { merchantIssuance, PLATFORM, transfer, userAccount } from './ledger.ts'
import type { MerchantRow } from './merchants.ts'

export async function grantPoints(
  tx: Tx,
  input: {
    owner: { userId: number }
    merchant: MerchantRow
    userId: number
    points: number
    reason: string
    now: Date
  },
) {
  if (input.merchant.status !== 'ACTIVE') {
    throw new AppError('MERCHANT_NOT_ACTIVE', `merchant is ${input.merchant.status}`)
  }
  const grantId = randomUUID()
  const moved = await transfer(tx, {
    businessKey: `GRANT:${grantId}`,
    kind: 'MERCHANT_GRANT',
    debit: merchantIssuance(input.merchant.id),
    credit: userAccount(input.userId),
    points: input.points,
    merchantId: input.merchant.id,
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
      details: { merchantId: String(input.merchant.id), points: input.points, reason: input.reason, grantId },
    },
    input.now,
  )
  return {
    id: grantId,
    transferId: String(moved.transferId),
    merchantId: String(input.merchant.id),
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
