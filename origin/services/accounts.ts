/**
 * Closing and freezing user accounts (API.md §14). Deletion keeps the user's row and ledger
 * history (other rows name it) but erases what identifies the person, and forfeits the balance.
 *
 * Locking: the final step holds the user's row exclusively while it cancels gifts, forfeits and
 * erases. Every credit to a user made on their own behalf or by a grant first share-locks that row
 * and refuses a deleted account (users.lockActingUser / lockLiveUser), so a credit either commits
 * before the forfeit (and is forfeited with the rest) or finds the account deleted.
 */
import { and, eq, ne, sql } from 'drizzle-orm'
import { merchantStaff, merchants, orders, users } from '../../db/schema.ts'
import { AppError } from '../../shared/errors.ts'
import { type Db, type Numeric, runTx, selectRows, type Tx } from '../db/client.ts'
import { recordAudit } from './audit.ts'
import { cancelPendingGiftsOf } from './gift-settlement.ts'
import { PLATFORM, transfer, userAccount } from './ledger.ts'
import { closeUnpaidOrder } from './orders.ts'
import type { PaymentDeps } from './payment-deps.ts'

/** An applicant or owner keeps the merchant's history tied to a person: they must hand it over first. */
async function refuseMerchantOwner(db: Db | Tx, userId: number) {
  const [owned] = await db
    .select({ id: merchants.id })
    .from(merchants)
    .where(and(eq(merchants.ownerUserId, userId), ne(merchants.status, 'REJECTED')))
  if (owned) {
    throw new AppError('INVALID_STATE', 'the owner of a merchant cannot delete their account', {
      merchantId: String(owned.id),
    })
  }
}

const pendingOrdersOf = (db: Db | Tx, userId: number) =>
  db
    .select()
    .from(orders)
    .where(and(eq(orders.userId, userId), eq(orders.status, 'PENDING')))

async function forfeitBalance(tx: Tx, userId: number, now: Date): Promise<number> {
  const [acct] = await selectRows<{ balance: Numeric }>(
    tx,
    sql`SELECT balance FROM accounts WHERE kind = 'USER' AND owner_id = ${userId} FOR UPDATE`,
  )
  const balance = Number(acct?.balance ?? 0)
  // A debt is not forgiven into the platform's books: it simply stays on the closed account.
  if (balance <= 0) return 0
  await transfer(tx, {
    businessKey: `ACCOUNT_CLOSED:${userId}`,
    kind: 'ACCOUNT_CLOSED',
    debit: userAccount(userId),
    credit: PLATFORM,
    points: balance,
    refId: String(userId),
    now,
  })
  return balance
}

/**
 * DELETE /api/me. Pending orders are closed first (at WeChat, then locally; a payment that already
 * happened is applied, so its points are forfeited rather than lost), outside the final
 * transaction because they call WeChat. The final transaction refuses if an order appeared
 * meanwhile, then cancels pending gifts, forfeits what is left and erases the profile. The openid
 * becomes a placeholder, so the same WeChat user logging in again gets a new, empty account.
 */
export async function deleteAccount(deps: PaymentDeps, userId: number): Promise<{ deleted: true }> {
  const db = deps.db.primary
  await refuseMerchantOwner(db, userId)
  for (const order of await pendingOrdersOf(db, userId)) await closeUnpaidOrder(deps, order, new Date())
  const forfeited = await runTx(db, async (tx) => {
    const now = new Date()
    const [user] = await tx
      .select({ frozenAt: users.frozenAt, deletedAt: users.deletedAt })
      .from(users)
      .where(eq(users.id, userId))
      .for('update')
    if (!user || user.deletedAt) throw new AppError('UNAUTHENTICATED', 'this account was deleted')
    if (user.frozenAt) throw new AppError('ACCOUNT_FROZEN', 'a frozen account cannot be deleted')
    await refuseMerchantOwner(tx, userId)
    if ((await pendingOrdersOf(tx, userId)).length > 0) {
      throw new AppError('INVALID_STATE', 'an order was started meanwhile; try again')
    }
    await cancelPendingGiftsOf(tx, userId, now)
    const [staff] = await tx
      .select({ merchantId: merchantStaff.merchantId })
      .from(merchantStaff)
      .where(eq(merchantStaff.userId, userId))
    if (staff) {
      await tx.delete(merchantStaff).where(eq(merchantStaff.userId, userId))
      await recordAudit(
        tx,
        {
          actorUserId: userId,
          actorRole: 'merchant_staff',
          action: 'staff.leave',
          targetType: 'user',
          targetId: userId,
          details: { merchantId: String(staff.merchantId), accountDeleted: true },
        },
        now,
      )
    }
    const forfeited = await forfeitBalance(tx, userId, now)
    await tx
      .update(users)
      .set({
        openid: `deleted:${userId}`,
        unionid: null,
        nickname: '',
        avatarUrl: '',
        deletedAt: now,
        updatedAt: now,
      })
      .where(eq(users.id, userId))
    return forfeited
  })
  if (forfeited > 0) deps.metrics.pointsMoved.inc({ kind: 'ACCOUNT_CLOSED' }, forfeited)
  return { deleted: true }
}

/** POST /api/admin/users/:id/freeze|unfreeze: sets the state whatever it was, audited each time. */
export async function setFrozen(db: Db, adminUserId: number, userId: number, frozen: boolean) {
  return runTx(db, async (tx) => {
    const now = new Date()
    const [user] = await tx
      .select({ frozenAt: users.frozenAt, deletedAt: users.deletedAt })
      .from(users)
      .where(eq(users.id, userId))
      .for('update')
    if (!user || user.deletedAt) throw new AppError('NOT_FOUND', 'user not found')
    const changed = frozen !== (user.frozenAt !== null)
    const frozenAt = frozen ? (user.frozenAt ?? now) : null
    if (changed) await tx.update(users).set({ frozenAt, updatedAt: now }).where(eq(users.id, userId))
    await recordAudit(
      tx,
      {
        actorUserId: adminUserId,
        actorRole: 'admin',
        action: frozen ? 'user.freeze' : 'user.unfreeze',
        targetType: 'user',
        targetId: userId,
        details: { changed },
      },
      now,
    )
    return { id: String(userId), frozen, frozenAt: frozenAt?.toISOString() ?? null }
  })
}
